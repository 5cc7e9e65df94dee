//! `bqwrite struct --schema schemas/customer_records.json --name CustomerRecord`
//! prints a `#[derive(BqRow)]` struct for the table whose JSON schema
//! (`bq show --schema --format=prettyjson`) is in the file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "bqwrite", version, about = "Tools for bqwrite")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a `#[derive(BqRow)]` struct for a table's JSON schema file.
    Struct {
        /// The JSON schema file, as `bq show --schema --format=prettyjson` prints it.
        #[arg(long)]
        schema: PathBuf,
        /// The name of the struct.
        #[arg(long)]
        name: String,
        /// The path written into `#[bq(schema = "...")]`, relative to the
        /// crate's `Cargo.toml` (default: `--schema` as given).
        #[arg(long)]
        schema_attr: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Struct {
            schema,
            name,
            schema_attr,
        } => {
            let text = match std::fs::read_to_string(&schema) {
                Ok(text) => text,
                Err(err) => {
                    eprintln!("error: cannot read {}: {err}", schema.display());
                    return ExitCode::FAILURE;
                }
            };
            let attr = schema_attr.unwrap_or_else(|| schema.display().to_string());
            match bqwrite_cli::generate(&text, &name, &attr) {
                Ok(code) => {
                    print!("{code}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {}: {err}", schema.display());
                    ExitCode::FAILURE
                }
            }
        }
    }
}
