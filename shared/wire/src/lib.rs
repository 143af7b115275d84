//! What imagepipe reads from outside its own memory, and the rules for reading it: an upload's
//! multipart form (`upload`), the image header checks every upload passes (`image_rules`),
//! the chain of steps a client sends (`steps`), the messages the services send each other
//! over the broker (`messages`, `analysis`) and what a dead letter comes to (`dead_letters`).
//!
//! Pure code, with no connection to a database, broker or store: the fuzz targets
//! (`fuzz/`) build on this crate alone, in a fraction of the services' build.
//! `imagepipe-shared` re-exports the modules every service uses under the same names.

pub mod analysis;
pub mod dead_letters;
pub mod image_rules;
pub mod messages;
pub mod steps;
pub mod upload;
