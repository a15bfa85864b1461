//! daxtrace's developer tasks as a library, so tasks can use each other
//! (e.g. the test pipeline boots VMs through [`vm::run`]).
pub mod vm;
