//! Models are steps: the shipped face detector and the operator's own models (`infer`)
//! through the whole system, and the model files a processor refuses at start.

mod faces;
mod infer;
mod startup;
