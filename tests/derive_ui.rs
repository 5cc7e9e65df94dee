//! Compile-fail tests of `#[derive(BqRow)]`: every mistake a user can make is
//! a spanned compile error that says what to do. The `.stderr` files are
//! pinned to the toolchain in use (rustc 1.95); regenerate them with
//! `TRYBUILD=overwrite cargo test --test derive_ui` after a toolchain change.

#[test]
fn derive_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
