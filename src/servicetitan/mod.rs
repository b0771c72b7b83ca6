//! ServiceTitan API client.
