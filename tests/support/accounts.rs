//! A table with a primary key for the CDC tests (`cdc.rs`, `change_sink.rs`):
//! its row type, the table, the merged read-back, and the model the merged
//! table must equal.

use std::collections::BTreeMap;

use bqwrite::{BqRow, Change, Client, Table};

use super::Env;

#[derive(Debug, Clone, PartialEq, BqRow)]
pub struct Account {
    pub id: i64,
    pub owner: Option<String>,
    pub balance: i64,
}

/// A table of `Account`s keyed by `id` in `env`'s emulator, as `client`
/// sees it.
pub fn keyed_table(env: &Env, client: &Client, name: &str) -> Table {
    let path = Env::path(name);
    env.emulator
        .create_table_with_primary_key(&path, Account::table_schema(), ["id"])
        .unwrap();
    client.table_from_path(&path).unwrap()
}

/// The table after applying `changes` in the order given, whatever their
/// sequences (give them in the order of events).
pub fn model(changes: &[Change<Account>]) -> BTreeMap<i64, Account> {
    let mut table = BTreeMap::new();
    for change in changes {
        let row = change.row();
        if change.is_delete() {
            table.remove(&row.id);
        } else {
            table.insert(row.id, row.clone());
        }
    }
    table
}

/// The emulator's merged table, by key.
pub fn merged(env: &Env, table: &str) -> BTreeMap<i64, Account> {
    env.cells(table)
        .into_iter()
        .map(|cells| {
            let account = Account {
                id: cells[0].as_str().unwrap().parse().unwrap(),
                owner: cells[1].as_str().map(str::to_owned),
                balance: cells[2].as_str().unwrap().parse().unwrap(),
            };
            (account.id, account)
        })
        .collect()
}
