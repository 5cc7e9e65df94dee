//! The same rules as [`check`](crate::check), as `const fn`s over static
//! data, for what only the compiler knows: the columns of a nested struct
//! (`#[derive(BqRow)]` exposes them as a `const`), checked against the
//! sub-columns of a STRUCT column of a schema file while the code compiles.
//! A `const` cannot allocate, so the first mismatch is reported, with its
//! message written into a fixed buffer.

use crate::{Mode, Type, writable};

/// A column as static data.
#[derive(Debug, Clone, Copy)]
pub struct StaticColumn {
    /// The name.
    pub name: &'static str,
    /// The type.
    pub ty: Type,
    /// The mode.
    pub mode: Mode,
    /// The sub-columns of a STRUCT.
    pub fields: &'static [StaticColumn],
}

/// The longest message [`first_mismatch`] writes.
pub const MESSAGE_LEN: usize = 512;

/// A message built at compile time: `bytes[..len]` is UTF-8.
#[derive(Debug, Clone, Copy)]
pub struct Message {
    /// The bytes.
    pub bytes: [u8; MESSAGE_LEN],
    /// How many are used.
    pub len: usize,
}

impl Message {
    const fn new() -> Message {
        Message {
            bytes: [0; MESSAGE_LEN],
            len: 0,
        }
    }

    const fn push(mut self, text: &str) -> Message {
        let text = text.as_bytes();
        let mut i = 0;
        while i < text.len() && self.len < MESSAGE_LEN {
            self.bytes[self.len] = text[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    /// The text (cut at a character boundary when it was too long).
    pub const fn as_str(&self) -> &str {
        let mut len = self.len;
        loop {
            let (head, _) = self.bytes.split_at(len);
            match core::str::from_utf8(head) {
                Ok(text) => return text,
                Err(_) => len -= 1,
            }
        }
    }
}

const fn eq_ignore_case(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

const fn find(columns: &[StaticColumn], name: &str) -> Option<usize> {
    let mut i = 0;
    while i < columns.len() {
        if eq_ignore_case(columns[i].name, name) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The path of the column in `prefix` form: `a.b.`.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
}

const fn with_path(message: Message, path: &Path<'_>) -> Message {
    let message = match path.parent {
        Some(parent) => with_path(message, parent).push("."),
        None => message,
    };
    message.push(path.name)
}

const fn column(message: Message, path: &Path<'_>, text: &str) -> Message {
    with_path(message.push("column `"), path).push(text)
}

/// The first reason the `row` columns cannot write the `table` columns (the
/// sub-columns of the STRUCT column `name`), or `None`; the same rules as
/// [`check`](crate::check).
pub const fn first_mismatch(
    name: &str,
    row: &[StaticColumn],
    table: &[StaticColumn],
) -> Option<Message> {
    let path = Path { parent: None, name };
    fields(&path, row, table)
}

/// [`first_mismatch`], its message ending with ` (`file`)`.
pub const fn first_mismatch_in(
    name: &str,
    file: &str,
    row: &[StaticColumn],
    table: &[StaticColumn],
) -> Option<Message> {
    match first_mismatch(name, row, table) {
        Some(message) => Some(message.push(" (`").push(file).push("`)")),
        None => None,
    }
}

const fn fields(
    parent: &Path<'_>,
    row: &[StaticColumn],
    table: &[StaticColumn],
) -> Option<Message> {
    let mut i = 0;
    while i < row.len() {
        let field = &row[i];
        let path = Path {
            parent: Some(parent),
            name: field.name,
        };
        match find(table, field.name) {
            None => {
                let message = with_path(Message::new().push("field `"), &path);
                return Some(message.push("` has no column in the schema file"));
            }
            Some(j) => {
                if let Some(message) = one(&path, field, &table[j]) {
                    return Some(message);
                }
            }
        }
        i += 1;
    }
    let mut j = 0;
    while j < table.len() {
        if matches!(table[j].mode, Mode::Required) && find(row, table[j].name).is_none() {
            let path = Path {
                parent: Some(parent),
                name: table[j].name,
            };
            let message = with_path(Message::new().push("REQUIRED column `"), &path);
            return Some(message.push("` has no field in the struct"));
        }
        j += 1;
    }
    None
}

const fn one(path: &Path<'_>, field: &StaticColumn, column_: &StaticColumn) -> Option<Message> {
    let field_repeated = matches!(field.mode, Mode::Repeated);
    if field_repeated != matches!(column_.mode, Mode::Repeated) {
        let text = if field_repeated {
            "` is not REPEATED but the struct's field is a Vec"
        } else {
            "` is REPEATED but the struct's field is not a Vec"
        };
        return Some(column(Message::new(), path, text));
    }
    if matches!(field.mode, Mode::Nullable) && matches!(column_.mode, Mode::Required) {
        return Some(column(
            Message::new(),
            path,
            "` is REQUIRED but the struct's field is optional",
        ));
    }
    if !writable(field.ty, column_.ty) {
        let message = column(Message::new(), path, "` is ").push(column_.ty.name());
        return Some(message.push(", the struct writes ").push(field.ty.name()));
    }
    if matches!(field.ty, Type::Struct) {
        return fields(path, field.fields, column_.fields);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn col(name: &'static str, ty: Type, mode: Mode) -> StaticColumn {
        StaticColumn {
            name,
            ty,
            mode,
            fields: &[],
        }
    }

    const LAT: StaticColumn = col("lat", Type::Float64, Mode::Nullable);
    const LAT_TEXT: StaticColumn = col("lat", Type::String, Mode::Nullable);

    #[test]
    fn messages_match_the_runtime_check() {
        let table = [
            col("street", Type::String, Mode::Required),
            StaticColumn {
                name: "geo",
                ty: Type::Struct,
                mode: Mode::Nullable,
                fields: &[LAT],
            },
        ];
        let ok = [col("STREET", Type::String, Mode::Required)];
        assert!(first_mismatch("address", &ok, &table).is_none());
        let cases: [(&[StaticColumn], &str); 4] = [
            (
                &[],
                "REQUIRED column `address.street` has no field in the struct",
            ),
            (
                &[col("street", Type::String, Mode::Nullable)],
                "column `address.street` is REQUIRED but the struct's field is optional",
            ),
            (
                &[
                    col("street", Type::String, Mode::Required),
                    StaticColumn {
                        name: "geo",
                        ty: Type::Struct,
                        mode: Mode::Nullable,
                        fields: &[LAT_TEXT],
                    },
                ],
                "column `address.geo.lat` is FLOAT64, the struct writes STRING",
            ),
            (
                &[
                    col("street", Type::String, Mode::Required),
                    col("zip", Type::String, Mode::Nullable),
                ],
                "field `address.zip` has no column in the schema file",
            ),
        ];
        for (row, expected) in cases {
            let message = first_mismatch("address", row, &table).expect("a mismatch");
            assert_eq!(message.as_str(), expected);
        }
    }
}
