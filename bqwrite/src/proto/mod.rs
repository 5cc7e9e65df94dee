//! The raw Storage Write API: messages and the tonic client, generated from
//! the `.proto` files in the repository's `proto/` folder.
//!
//! Most users never touch this module: [`Writer`](crate::Writer) speaks the
//! protocol for them. It is public for tests, tools and anything the typed
//! API does not cover yet. Regenerate with `cargo run -p xtask -- codegen`.

#![allow(missing_docs, clippy::all, clippy::pedantic, rust_2018_idioms)]

pub mod descriptor;

/// The generated packages, nested as their protobuf package names.
pub mod google {
    /// `google.rpc`: the error model of Google APIs.
    pub mod rpc {
        include!("gen/google.rpc.rs");
    }
    /// `google.cloud`.
    pub mod cloud {
        /// `google.cloud.bigquery`.
        pub mod bigquery {
            /// `google.cloud.bigquery.storage`.
            pub mod storage {
                /// `google.cloud.bigquery.storage.v1`: the Storage Write API.
                pub mod v1 {
                    include!("gen/google.cloud.bigquery.storage.v1.rs");
                }
            }
        }
    }
}

pub use google::cloud::bigquery::storage::v1 as storage;
pub use google::rpc;

/// The number of the `column_name` field option
/// (`google.cloud.bigquery.storage.v1.column_name`, on `FieldOptions`).
pub const COLUMN_NAME_EXTENSION: u32 = 454_943_157;
