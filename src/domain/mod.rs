//! Pure domain rules: no async, no database, no HTTP.
