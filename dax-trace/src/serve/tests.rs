//! In-process tests of the exporter: negotiation over real HTTP, bounds
//! against hostile clients, and a taken port.
