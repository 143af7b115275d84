//! Reading one field of the form: the file, spooled under its limit, and the small fields,
//! read whole under theirs. Neither ever reads more than one buffer past its limit.

use bytes::{Bytes, BytesMut};
use poem::web::Field;
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt},
    sync::OwnedSemaphorePermit,
};

use super::{FormError, FormLimits, MEMORY_SPOOL_MAX, Spooled, UploadedFile};

/// Read buffer, per upload in flight.
const BUFFER: usize = 64 * 1024;

/// A read of the body that failed midway: the client's connection, or a body that ends
/// inside a part.
fn broken_body(e: std::io::Error) -> FormError {
    FormError::Malformed(format!("reading the upload: {e}"))
}

/// Copy the file field into memory (with a memory slot, up to [`MEMORY_SPOOL_MAX`]) or else
/// into a temporary file, failing the moment it passes its limit (the rest of the body is
/// never read).
pub(super) async fn spool(
    field: Field,
    file_name: Option<String>,
    limits: FormLimits,
    slot: Option<OwnedSemaphorePermit>,
) -> Result<UploadedFile, FormError> {
    let limit = limits.max_file_bytes;
    let mut reader = field.into_async_read();
    let mut buffer = vec![0u8; BUFFER];
    let mut hasher = limits.digest.then(Sha256::new);
    let mut len: u64 = 0;
    let mut memory = slot.map(|slot| (BytesMut::new(), slot));
    let mut file: Option<tokio::fs::File> = None;
    loop {
        let read = reader.read(&mut buffer).await.map_err(broken_body)?;
        if read == 0 {
            break;
        }
        len += read as u64;
        if len > limit {
            return Err(FormError::FileTooLarge { limit });
        }
        let chunk = &buffer[..read];
        if let Some(hasher) = &mut hasher {
            hasher.update(chunk);
        }
        match &mut memory {
            Some((bytes, _)) if bytes.len() + read <= MEMORY_SPOOL_MAX => {
                bytes.extend_from_slice(chunk);
            }
            _ => {
                let file = match &mut file {
                    Some(file) => file,
                    None => {
                        // Too big for memory: move what is there to a file, free the slot.
                        let mut spill = temporary_file()?;
                        if let Some((bytes, _slot)) = memory.take() {
                            spill.write_all(&bytes).await.map_err(FormError::Spool)?;
                        }
                        file.insert(spill)
                    }
                };
                file.write_all(chunk).await.map_err(FormError::Spool)?;
            }
        }
    }
    let body = match (memory, file) {
        (_, Some(mut file)) => {
            file.flush().await.map_err(FormError::Spool)?;
            file.rewind().await.map_err(FormError::Spool)?;
            Spooled::Disk(file)
        }
        (Some((bytes, slot)), None) => Spooled::Memory(bytes.freeze(), slot),
        // No slot and not a byte read: an empty file, refused later as undecodable.
        (None, None) => Spooled::Disk(temporary_file()?),
    };
    Ok(UploadedFile {
        file_name,
        body,
        len,
        sha256: hasher.map(|h| h.finalize().into()),
    })
}

/// An anonymous temporary file: gone when dropped, whatever happens to the request.
fn temporary_file() -> Result<tokio::fs::File, FormError> {
    tempfile::tempfile()
        .map(tokio::fs::File::from_std)
        .map_err(FormError::Spool)
}

/// Read one (small) field whole: `None` the moment it passes `limit`.
pub(super) async fn read_limited(field: Field, limit: u64) -> Result<Option<Bytes>, FormError> {
    let mut reader = field.into_async_read();
    let mut buffer = BytesMut::with_capacity(BUFFER);
    loop {
        // Never ask for more than one byte past the limit.
        let room = (limit + 1)
            .saturating_sub(buffer.len() as u64)
            .min(BUFFER as u64) as usize;
        buffer.reserve(room);
        let mut chunk = (&mut reader).take(room as u64);
        let read = chunk.read_buf(&mut buffer).await.map_err(broken_body)?;
        if buffer.len() as u64 > limit {
            return Ok(None);
        }
        if read == 0 {
            return Ok(Some(buffer.freeze()));
        }
    }
}
