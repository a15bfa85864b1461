//! Running the dashboard: intake from the event stream, the [`dashboard`]
//! that ties model, intake and the user's state together, key bindings, and
//! the interactive loop with its terminal guard.
pub mod dashboard;
pub mod intake;
pub mod interactive;
pub mod keys;
pub mod terminal;
