//! `daxtrace check`: assertions over collector state (being built).
