//! What the fuzz targets share: the drivers the property tests use, so a fuzz finding and a
//! property failure are the same bug.

#[path = "../../it/hardening/drive.rs"]
pub mod drive;
