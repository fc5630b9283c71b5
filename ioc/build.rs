// `sqlx::migrate!` embeds the .sql files at compile time; without this, editing a migration
// would not rebuild the crate and the binary would carry stale checksums.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
