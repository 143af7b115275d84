//! The deployment files and the docs set and name only settings the services really read.

#![allow(clippy::unwrap_used)] // A test that cannot go on should stop right there.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use imagepipe_ingest::IngestConfig;
use imagepipe_processor::ProcessorConfig;
use imagepipe_result_writer::ResultWriterConfig;

fn env_names(command: clap::Command) -> BTreeSet<String> {
    command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// What each image-running service of ours reads.
fn settings() -> BTreeMap<&'static str, BTreeSet<String>> {
    BTreeMap::from([
        ("ingest", env_names(IngestConfig::command())),
        ("processor", env_names(ProcessorConfig::command())),
        ("result-writer", env_names(ResultWriterConfig::command())),
        // sea-orm-migration's CLI.
        (
            "migrate",
            BTreeSet::from(["DATABASE_URL".to_owned(), "DATABASE_SCHEMA".to_owned()]),
        ),
    ])
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_variable_docker_compose_sets_is_read_by_its_service() {
    let compose: serde_json::Value =
        serde_norway::from_str(&repo_file("docker-compose.yml")).unwrap();
    let settings = settings();
    let mut checked = 0;
    for (service, reads) in &settings {
        let environment = compose["services"][service]["environment"]
            .as_object()
            .unwrap_or_else(|| panic!("service {service} has an environment map"));
        for name in environment.keys() {
            assert!(
                reads.contains(name),
                "docker-compose.yml sets {name} on {service}, which does not read it"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked only {checked} variables");
}

#[test]
fn the_readme_documents_every_setting() {
    let readme = repo_file("README.md");
    for (service, reads) in settings() {
        for name in reads {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not document {name} (read by {service})"
            );
        }
    }
}
