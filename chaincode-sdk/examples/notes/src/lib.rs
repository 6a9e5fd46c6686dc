//! Shared notes: the example chaincode of the chaincode author's guide
//! (`chaincode-sdk/README.md`).
//!
//! | function | arguments | returns |
//! |---|---|---|
//! | `add` | `id, text` | the new [`Note`], written by the caller |
//! | `edit` | `id, text` | the edited [`Note`]; only its author may edit it |
//! | `get` | `id` | the [`Note`] |
//! | `list` | `page_size, bookmark` | a [`Page`] of notes, sorted by id |
//! | `history` | `id` | every committed version of the note, oldest first |
//!
//! Notes are JSON at `note/{id}`; `add` emits the event `note_added` with
//! the note's id.

use std::sync::OnceLock;

use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub, Router};
use serde::{Deserialize, Serialize};

/// The notes chaincode.
#[derive(Debug, Default, Clone, Copy)]
pub struct Notes;

impl Chaincode for Notes {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        static ROUTER: OnceLock<Router> = OnceLock::new();
        ROUTER
            .get_or_init(|| {
                Router::new()
                    .add("add", ["id", "text"], add)
                    .add("edit", ["id", "text"], edit)
                    .add("get", ["id"], |stub, (id,): (String,)| get(stub, &id))
                    .add("list", ["page_size", "bookmark"], list)
                    .add("history", ["id"], history)
            })
            .invoke(stub)
    }
}

/// A note as stored at `note/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The note's id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// Who wrote it: `<MSP id>:<certificate subject>`.
    pub author: String,
    /// When it was last written, ms since the Unix epoch (the transaction's timestamp).
    pub updated_ms: i64,
}

/// One page of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The notes of the page.
    pub notes: Vec<Note>,
    /// Where the next page starts; empty after the last page.
    pub bookmark: String,
}

fn key(id: &str) -> String {
    format!("note/{id}")
}

fn caller(stub: &dyn ChaincodeStub) -> String {
    let creator = stub.creator();
    format!("{}:{}", creator.msp_id, creator.subject)
}

fn put(stub: &mut dyn ChaincodeStub, note: &Note) -> Result<(), ChaincodeError> {
    let json = serde_json::to_vec(note).map_err(|e| ChaincodeError::State(e.to_string()))?;
    stub.put_state(&key(&note.id), &json)
}

fn decode(bytes: &[u8]) -> Result<Note, ChaincodeError> {
    serde_json::from_slice(bytes).map_err(|e| ChaincodeError::State(format!("corrupt note: {e}")))
}

fn get(stub: &mut dyn ChaincodeStub, id: &str) -> Result<Note, ChaincodeError> {
    let bytes = stub
        .get_state(&key(id))?
        .ok_or_else(|| ChaincodeError::business(format!("no note '{id}'")))?;
    decode(&bytes)
}

fn add(stub: &mut dyn ChaincodeStub, (id, text): (String, String)) -> Result<Note, ChaincodeError> {
    if id.is_empty() || id.contains('/') {
        return Err(ChaincodeError::InvalidArgs {
            function: "add".into(),
            reason: format!("id must be non-empty and without '/', got {id:?}"),
        });
    }
    if stub.get_state(&key(&id))?.is_some() {
        return Err(ChaincodeError::business(format!(
            "note '{id}' already exists"
        )));
    }
    let note = Note {
        id,
        text,
        author: caller(stub),
        updated_ms: stub.tx_timestamp_ms(),
    };
    put(stub, &note)?;
    stub.set_event("note_added", note.id.as_bytes())?;
    Ok(note)
}

fn edit(
    stub: &mut dyn ChaincodeStub,
    (id, text): (String, String),
) -> Result<Note, ChaincodeError> {
    let mut note = get(stub, &id)?;
    let who = caller(stub);
    if note.author != who {
        return Err(ChaincodeError::business(format!(
            "only {} may edit note '{id}', not {who}",
            note.author
        )));
    }
    note.text = text;
    note.updated_ms = stub.tx_timestamp_ms();
    put(stub, &note)?;
    Ok(note)
}

fn list(
    stub: &mut dyn ChaincodeStub,
    (page_size, bookmark): (u32, String),
) -> Result<Page, ChaincodeError> {
    // "note0" is the first key after every "note/…" key ('0' follows '/').
    let (entries, meta) =
        stub.get_state_by_range_with_pagination("note/", "note0", page_size, &bookmark)?;
    let notes = entries
        .iter()
        .map(|e| decode(&e.value))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        notes,
        bookmark: meta.bookmark,
    })
}

fn history(stub: &mut dyn ChaincodeStub, (id,): (String,)) -> Result<Vec<Note>, ChaincodeError> {
    stub.get_history_for_key(&key(&id))?
        .iter()
        .filter(|change| !change.is_delete)
        .map(|change| decode(&change.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chaincode_sdk::{Creator, MockStub};

    fn note(stub: &mut MockStub, function: &str, args: &[&str]) -> Result<Note, ChaincodeError> {
        let out = stub.invoke(&Notes, function, args)?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn add_get_and_edit_by_the_author_only() {
        let mut stub = MockStub::new("mychannel"); // calls as Org1MSP's user1@org1
        stub.set_timestamp(1_000);
        let added = note(&mut stub, "add", &["n1", "hello"]).unwrap();
        assert_eq!(added.author, "Org1MSP:user1@org1");
        assert_eq!(stub.events()[0].name, "note_added");
        assert_eq!(note(&mut stub, "get", &["n1"]).unwrap().text, "hello");

        stub.set_creator(Creator {
            msp_id: "Org2MSP".into(),
            role: "client".into(),
            subject: "bob".into(),
            ..Creator::default()
        });
        let err = note(&mut stub, "edit", &["n1", "mine now"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "only Org1MSP:user1@org1 may edit note 'n1', not Org2MSP:bob"
        );
        let err = note(&mut stub, "add", &["n1", "again"]).unwrap_err();
        assert_eq!(err.to_string(), "note 'n1' already exists");
        assert_eq!(note(&mut stub, "get", &["n1"]).unwrap().text, "hello");
    }

    #[test]
    fn list_pages_and_history() {
        let mut stub = MockStub::new("mychannel");
        for id in ["a", "b", "c"] {
            note(&mut stub, "add", &[id, "text"]).unwrap();
        }
        note(&mut stub, "edit", &["b", "changed"]).unwrap();
        let page: Page =
            serde_json::from_slice(&stub.invoke(&Notes, "list", &["2", ""]).unwrap()).unwrap();
        assert_eq!(page.notes.len(), 2);
        let rest: Page =
            serde_json::from_slice(&stub.invoke(&Notes, "list", &["2", &page.bookmark]).unwrap())
                .unwrap();
        assert_eq!(
            (rest.notes[0].id.as_str(), rest.bookmark.as_str()),
            ("c", "")
        );
        let versions: Vec<Note> =
            serde_json::from_slice(&stub.invoke(&Notes, "history", &["b"]).unwrap()).unwrap();
        let texts: Vec<&str> = versions.iter().map(|n| n.text.as_str()).collect();
        assert_eq!(texts, ["text", "changed"]);
    }
}
