//! Which addresses a webhook may connect to.
//!
//! The host allow-list says which names may be used; this says where those names may lead.
//! A name on the list can still resolve to the machine itself, the private network, or a
//! cloud metadata service (169.254.169.254 hands out credentials), so such addresses are
//! refused unless the operator allows them by CIDR (`WEBHOOK_ALLOWED_ADDRESSES`).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// IPv4 ranges refused by default, the most specific first (its name is the one reported).
const REFUSED_V4: &[(Ipv4Net, &str)] = &[
    // Linux connects 0.0.0.0 (and the rest of 0/8 it accepts) to the local host.
    (v4(0, 0, 0, 0, 8), "unspecified"),
    (v4(10, 0, 0, 0, 8), "private"),
    // Carrier-grade NAT; also where some clouds put their metadata (Alibaba 100.100.100.200).
    (v4(100, 64, 0, 0, 10), "shared (CGNAT)"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 169, 254, 32), "cloud metadata"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v4(172, 16, 0, 0, 12), "private"),
    (v4(192, 168, 0, 0, 16), "private"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v4(240, 0, 0, 0, 4), "reserved"),
];

/// IPv6 ranges refused by default, after the IPv4 embeddings (see [`embedded_v4`]).
const REFUSED_V6: &[(Ipv6Net, &str)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    // IPv4-compatible addresses (deprecated by RFC 4291): no destination anyone needs.
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 96), "IPv4-compatible"),
    // AWS's instance metadata over IPv6; inside fc00::/7, named for the log.
    (
        v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128),
        "cloud metadata",
    ),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "private (unique local)",
    ),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), "site-local"),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`, which the
/// kernel sends over IPv4) and NAT64's well-known prefix (`64:ff9b::a.b.c.d`, translated to
/// IPv4 by a gateway). Either would otherwise carry 127.0.0.1 past the IPv6 rules.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    let s = ip.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| {
        let [_, _, _, _, _, _, _, _, _, _, _, _, a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    })
}

/// The name of the default-refused range `ip` is in, if any.
pub fn refused_range(ip: IpAddr) -> Option<&'static str> {
    let v4_range = |ip: Ipv4Addr| {
        REFUSED_V4
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, name)| *name)
    };
    match ip {
        IpAddr::V4(ip) => v4_range(ip),
        IpAddr::V6(ip) => match embedded_v4(ip) {
            Some(inner) => v4_range(inner),
            None => REFUSED_V6
                .iter()
                .find(|(net, _)| net.contains(&ip))
                .map(|(_, name)| *name),
        },
    }
}

/// `WEBHOOK_ALLOWED_ADDRESSES`: CIDRs (or single addresses) allowed even inside a refused
/// range, comma-separated; empty allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressList(Vec<IpNet>);

impl AddressList {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets.into_iter().map(|net| net.trunc()).collect())
    }

    fn covers(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for AddressList {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let nets = list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an IP address or CIDR"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::new(nets))
    }
}

impl fmt::Display for AddressList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nets: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&nets.join(","))
    }
}

/// Why an address is refused: the range it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedAddress {
    pub address: IpAddr,
    pub range: &'static str,
}

/// The address rules: the default-refused ranges, minus what the operator allowed.
#[derive(Debug, Clone, Default)]
pub struct AddressRules {
    allowed: AddressList,
}

impl AddressRules {
    pub fn new(allowed: AddressList) -> Self {
        Self { allowed }
    }

    pub fn check(&self, address: IpAddr) -> Result<(), RefusedAddress> {
        // An allowed IPv4 range covers the same address written as IPv4-mapped IPv6.
        let inner = match address {
            IpAddr::V6(ip) => embedded_v4(ip).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        if self.allowed.covers(address) || inner.is_some_and(|ip| self.allowed.covers(ip)) {
            return Ok(());
        }
        match refused_range(address) {
            Some(range) => Err(RefusedAddress { address, range }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(ip: &str) -> Option<&'static str> {
        refused_range(ip.parse().unwrap())
    }

    #[test]
    fn every_default_refused_range_is_refused_at_its_edges() {
        for (ip, name) in [
            ("0.0.0.0", "unspecified"),
            ("0.255.255.255", "unspecified"),
            ("10.0.0.0", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.0", "shared (CGNAT)"),
            ("100.127.255.255", "shared (CGNAT)"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.0.1", "link-local"),
            ("169.254.255.255", "link-local"),
            ("172.16.0.0", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.1", "private"),
            ("192.168.255.255", "private"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.255", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fc00::1", "private (unique local)"),
            ("fdff:ffff::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("febf:ffff::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(range(ip), Some(name), "{ip}");
        }
    }

    #[test]
    fn public_addresses_and_the_neighbours_of_refused_ranges_pass() {
        for ip in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "223.255.255.255",
            "203.0.113.7",
            "2001:db8::1",
            "2606:4700::1111",
            "fbff:ffff::1",
            "fe00::1",
            "::2:0:0:1",
        ] {
            assert_eq!(range(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_as_the_ipv4_it_reaches() {
        assert_eq!(range("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(range("::ffff:169.254.169.254"), Some("cloud metadata"));
        assert_eq!(range("::ffff:10.1.2.3"), Some("private"));
        assert_eq!(range("64:ff9b::127.0.0.1"), Some("loopback"));
        assert_eq!(range("64:ff9b::a9fe:a9fe"), Some("cloud metadata"));
        assert_eq!(range("::ffff:1.1.1.1"), None);
        assert_eq!(range("64:ff9b::1.1.1.1"), None);
    }

    #[test]
    fn allowed_cidrs_open_their_addresses_and_no_others() {
        let rules = AddressRules::new("127.0.0.1/32, 10.20.0.0/16,fd12::/64".parse().unwrap());
        for ip in [
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "10.20.3.4",
            "fd12::9",
            "1.1.1.1",
        ] {
            assert_eq!(rules.check(ip.parse().unwrap()), Ok(()), "{ip}");
        }
        for (ip, range) in [
            ("127.0.0.2", "loopback"),
            ("::1", "loopback"),
            ("10.21.0.1", "private"),
            ("169.254.169.254", "cloud metadata"),
            ("fd13::1", "private (unique local)"),
        ] {
            let address = ip.parse().unwrap();
            assert_eq!(
                rules.check(address),
                Err(RefusedAddress { address, range }),
                "{ip}"
            );
        }
        // No list: every refused range stays refused.
        assert!(
            AddressRules::default()
                .check("127.0.0.1".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn the_setting_takes_cidrs_and_bare_addresses_and_names_a_bad_entry() {
        let list: AddressList = " 127.0.0.1 , ::1,10.1.2.3/8,".parse().unwrap();
        assert_eq!(list.to_string(), "127.0.0.1/32,::1/128,10.0.0.0/8");
        assert_eq!(list.to_string().parse::<AddressList>(), Ok(list));
        assert_eq!("".parse::<AddressList>(), Ok(AddressList::default()));
        assert_eq!(
            "10.0.0.0/8,localhost".parse::<AddressList>(),
            Err("\"localhost\" is not an IP address or CIDR".to_owned())
        );
        assert!("10.0.0.0/33".parse::<AddressList>().is_err());
    }
}
