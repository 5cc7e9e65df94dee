//! A message that sets a non-repeated field more than once, read as
//! protobuf parses it: a scalar's last value wins and a message field's
//! values merge. Rare in rows; the row check ([`super::decode`]) notices it
//! on its one pass and comes here only then.

use super::plan::{MessagePlan, Src};
use super::wire::{self, Raw, Reader};

/// Which field slots were seen; no allocation up to 64 fields.
pub(super) enum Seen {
    Small(u64),
    Large(Vec<u64>),
}

impl Seen {
    pub(super) fn new(n: usize) -> Self {
        if n <= 64 {
            Seen::Small(0)
        } else {
            Seen::Large(vec![0; n.div_ceil(64)])
        }
    }
    /// Marks a slot; true if it was already marked.
    #[inline]
    pub(super) fn set(&mut self, slot: usize) -> bool {
        let (word, bit) = match self {
            Seen::Small(w) => (w, slot),
            Seen::Large(v) => (&mut v[slot / 64], slot % 64),
        };
        let mask = 1u64 << bit;
        let was = *word & mask != 0;
        *word |= mask;
        was
    }
    pub(super) fn get(&self, slot: usize) -> bool {
        match self {
            Seen::Small(w) => *w & (1 << slot) != 0,
            Seen::Large(v) => v[slot / 64] & (1 << (slot % 64)) != 0,
        }
    }
}

/// The slot of a non-repeated field `number` read with its own wire type.
fn singular_slot(plan: &MessagePlan, number: u32, wire_type: u8) -> Option<usize> {
    plan.slot(number).filter(|&slot| {
        let field = &plan.fields[slot];
        !field.repeated && wire_type == field.src.wire_type()
    })
}

/// Whether a non-repeated field occurs more than once in a message (the
/// first malformed field ends the look).
pub(super) fn sets_a_singular_field_twice(plan: &MessagePlan, bytes: &[u8]) -> bool {
    let mut seen = Seen::new(plan.fields.len());
    let mut reader = Reader::new(bytes);
    while !reader.is_done() {
        let Ok((number, wire_type, _)) = reader.field() else {
            return false;
        };
        if let Some(slot) = singular_slot(plan, number, wire_type)
            && seen.set(slot)
        {
            return true;
        }
    }
    false
}

/// A message's bytes with every non-repeated field once, as protobuf parses
/// them: a scalar's last value wins, and a message field's values merge
/// (their encodings concatenated, which is protobuf's merge). Other fields
/// keep their order; anything from the first malformed field on is copied
/// as it is, for the walk to report.
pub(super) fn last_value_wins(plan: &MessagePlan, bytes: &[u8]) -> Vec<u8> {
    let mut last = vec![usize::MAX; plan.fields.len()];
    let mut merged: Vec<Vec<u8>> = vec![Vec::new(); plan.fields.len()];
    let mut reader = Reader::new(bytes);
    let mut index = 0;
    while !reader.is_done() {
        let Ok((number, wire_type, raw)) = reader.field() else {
            break;
        };
        if let Some(slot) = singular_slot(plan, number, wire_type) {
            last[slot] = index;
            if let (Src::Message, Raw::Len(payload)) = (&plan.fields[slot].src, raw) {
                merged[slot].extend_from_slice(payload);
            }
        }
        index += 1;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut reader = Reader::new(bytes);
    let mut index = 0;
    while !reader.is_done() {
        let start = reader.position();
        let Ok((number, wire_type, _)) = reader.field() else {
            out.extend_from_slice(&bytes[start..]);
            break;
        };
        let span = &bytes[start..reader.position()];
        match singular_slot(plan, number, wire_type) {
            None => out.extend_from_slice(span),
            Some(slot) if last[slot] != index => {} // a later value replaces it
            Some(slot) if matches!(plan.fields[slot].src, Src::Message) => {
                wire::put_varint(&mut out, (u64::from(number) << 3) | u64::from(wire::LEN));
                wire::put_varint(&mut out, merged[slot].len() as u64);
                out.extend_from_slice(&merged[slot]);
            }
            Some(_) => out.extend_from_slice(span),
        }
        index += 1;
    }
    out
}
