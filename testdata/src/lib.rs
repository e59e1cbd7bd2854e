//! Synthetic firmware images for tests (being written).
