//! Compile-fail tests of `#[derive(BqRow)]`: every mistake a user can make is
//! a spanned compile error that says what to do.
//!
//! The `.stderr` files hold rustc's exact wording, which changes between
//! releases, so they are pinned to one toolchain: the version in
//! `.ci/tested-rust`, the one CI runs and asserts. On any other compiler
//! this test is ignored, and `cargo test` prints why (see `build.rs`). After
//! moving the pin, regenerate them with
//! `TRYBUILD=overwrite cargo test --test derive_ui`.

#[test]
#[cfg_attr(
    not(bqwrite_ui_toolchain),
    ignore = "the .stderr files are pinned to the rustc in .ci/tested-rust; this is another"
)]
fn derive_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
