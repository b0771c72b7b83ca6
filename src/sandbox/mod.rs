//! The built-in ServiceTitan simulator.
