//! Default catalogues and templates loaded from `mappings/`.
