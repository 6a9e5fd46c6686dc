//! An asset-transfer sample chaincode, written with the [`Router`].
//!
//! | function | arguments | returns |
//! |---|---|---|
//! | `create` | `id, color, size, owner, appraised_value` | the new [`Asset`] |
//! | `read` | `id` | the [`Asset`] |
//! | `update` | `id, color, size, owner, appraised_value` | the updated [`Asset`] |
//! | `delete` | `id` | the deleted [`Asset`] |
//! | `transfer` | `id, new_owner` | the [`Asset`] with its new owner |
//! | `sell` | `id, buyer, symbol` | the [`Asset`] with its new owner, paid for with the `token` chaincode |
//! | `exists` | `id` | `true` or `false` |
//! | `list` | `page_size, bookmark` | a [`Page`]: `{"assets": [...], "bookmark": "..."}` |
//! | `history` | `id` | every committed change of the asset, oldest first, as [`Change`]s |
//!
//! Sizes and appraised values are whole numbers greater than zero; ids and
//! owners are non-empty. Each asset is stored as JSON at `asset/{id}`, so
//! `list` is one paginated range scan over `asset/`: pass an empty bookmark
//! for the first page and the returned bookmark for the next one, until it
//! comes back empty.
//!
//! `sell` calls the `token` chaincode in the same transaction: the buyer pays
//! the asset's appraised value in `symbol` to the owner with
//! `token.transfer(symbol, buyer, owner, appraised_value, "asset {id}")`, then
//! the asset changes owner. Token's error (an unknown symbol, too small a
//! balance) fails the sale and nothing changes.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{Chaincode, ChaincodeError, ChaincodeStub, Router};

/// The prefix of every asset's key.
const PREFIX: &str = "asset/";
/// The end of the range holding every asset's key: `'0'` follows `'/'`.
const PREFIX_END: &str = "asset0";

/// The asset-transfer sample chaincode.
#[derive(Default, Debug, Clone, Copy)]
pub struct AssetTransfer;

impl Chaincode for AssetTransfer {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        static ROUTER: OnceLock<Router> = OnceLock::new();
        ROUTER.get_or_init(router).invoke(stub)
    }
}

/// The chaincode's functions.
fn router() -> Router {
    const FIELDS: [&str; 5] = ["id", "color", "size", "owner", "appraised_value"];
    Router::new()
        .add("create", FIELDS, create)
        .add("read", ["id"], |stub, (id,): (String,)| read(stub, &id))
        .add("update", FIELDS, update)
        .add("delete", ["id"], delete)
        .add("transfer", ["id", "new_owner"], transfer)
        .add("sell", ["id", "buyer", "symbol"], sell)
        .add("exists", ["id"], |stub, (id,): (String,)| {
            checked_id("exists", &id)?;
            Ok::<_, ChaincodeError>(stub.get_state(&key(&id))?.is_some())
        })
        .add("list", ["page_size", "bookmark"], list)
        .add("history", ["id"], history)
}

/// An asset as stored at `asset/{id}` and returned by every function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// The asset's id, unique on the channel.
    pub id: String,
    /// Its colour.
    pub color: String,
    /// Its size, greater than zero.
    pub size: u64,
    /// Who owns it.
    pub owner: String,
    /// What it is worth, greater than zero.
    pub appraised_value: u64,
}

/// One page of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The assets of the page, sorted by id.
    pub assets: Vec<Asset>,
    /// Where the next page starts; empty after the last page.
    pub bookmark: String,
}

/// One committed change of an asset, as `history` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The transaction that made the change.
    pub tx_id: String,
    /// When it was made, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// Whether the change deleted the asset.
    pub deleted: bool,
    /// The asset as written; `None` for a delete.
    pub asset: Option<Asset>,
}

/// The arguments of `create` and `update`.
type Fields = (String, String, u64, String, u64);

/// The key of an asset.
fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// An `InvalidArgs` error for `function`.
fn invalid(function: &str, reason: impl Into<String>) -> ChaincodeError {
    ChaincodeError::InvalidArgs {
        function: function.to_owned(),
        reason: reason.into(),
    }
}

/// Refuses an empty id.
fn checked_id(function: &str, id: &str) -> Result<(), ChaincodeError> {
    if id.is_empty() {
        return Err(invalid(function, "id must not be empty"));
    }
    Ok(())
}

/// Checks the fields of `create` and `update` and builds the asset.
fn asset(function: &str, fields: Fields) -> Result<Asset, ChaincodeError> {
    let (id, color, size, owner, appraised_value) = fields;
    checked_id(function, &id)?;
    if owner.is_empty() {
        return Err(invalid(function, "owner must not be empty"));
    }
    if size == 0 {
        return Err(invalid(function, "size must be greater than zero"));
    }
    if appraised_value == 0 {
        return Err(invalid(
            function,
            "appraised_value must be greater than zero",
        ));
    }
    Ok(Asset {
        id,
        color,
        size,
        owner,
        appraised_value,
    })
}

/// Decodes a stored asset.
fn decode(key: &str, bytes: &[u8]) -> Result<Asset, ChaincodeError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ChaincodeError::State(format!("corrupt asset at '{key}': {e}")))
}

/// Writes an asset.
fn put(stub: &mut dyn ChaincodeStub, asset: &Asset) -> Result<(), ChaincodeError> {
    let bytes = serde_json::to_vec(asset)
        .map_err(|e| ChaincodeError::State(format!("could not encode asset: {e}")))?;
    stub.put_state(&key(&asset.id), &bytes)
}

/// `read(id)`: the asset, or an error if there is none.
fn read(stub: &mut dyn ChaincodeStub, id: &str) -> Result<Asset, ChaincodeError> {
    checked_id("read", id)?;
    existing(stub, id)
}

/// The asset `id`, or "does not exist".
fn existing(stub: &mut dyn ChaincodeStub, id: &str) -> Result<Asset, ChaincodeError> {
    let key = key(id);
    match stub.get_state(&key)? {
        Some(bytes) => decode(&key, &bytes),
        None => Err(ChaincodeError::business(format!(
            "asset '{id}' does not exist"
        ))),
    }
}

/// `create(id, color, size, owner, appraised_value)`: a new asset.
fn create(stub: &mut dyn ChaincodeStub, fields: Fields) -> Result<Asset, ChaincodeError> {
    let asset = asset("create", fields)?;
    if stub.get_state(&key(&asset.id))?.is_some() {
        return Err(ChaincodeError::business(format!(
            "asset '{}' already exists",
            asset.id
        )));
    }
    put(stub, &asset)?;
    Ok(asset)
}

/// `update(id, color, size, owner, appraised_value)`: replaces an existing asset.
fn update(stub: &mut dyn ChaincodeStub, fields: Fields) -> Result<Asset, ChaincodeError> {
    let asset = asset("update", fields)?;
    existing(stub, &asset.id)?;
    put(stub, &asset)?;
    Ok(asset)
}

/// `delete(id)`: removes an existing asset and returns it.
fn delete(stub: &mut dyn ChaincodeStub, (id,): (String,)) -> Result<Asset, ChaincodeError> {
    checked_id("delete", &id)?;
    let asset = existing(stub, &id)?;
    stub.del_state(&key(&id))?;
    Ok(asset)
}

/// `transfer(id, new_owner)`: gives an existing asset to someone else.
fn transfer(
    stub: &mut dyn ChaincodeStub,
    (id, new_owner): (String, String),
) -> Result<Asset, ChaincodeError> {
    checked_id("transfer", &id)?;
    if new_owner.is_empty() {
        return Err(invalid("transfer", "new_owner must not be empty"));
    }
    let mut asset = existing(stub, &id)?;
    if asset.owner == new_owner {
        return Err(ChaincodeError::business(format!(
            "asset '{id}' is already owned by {new_owner}"
        )));
    }
    asset.owner = new_owner;
    put(stub, &asset)?;
    Ok(asset)
}

/// `sell(id, buyer, symbol)`: the buyer pays the appraised value in
/// `symbol` to the owner through the `token` chaincode and becomes the owner.
fn sell(
    stub: &mut dyn ChaincodeStub,
    (id, buyer, symbol): (String, String, String),
) -> Result<Asset, ChaincodeError> {
    checked_id("sell", &id)?;
    if buyer.is_empty() {
        return Err(invalid("sell", "buyer must not be empty"));
    }
    let mut asset = existing(stub, &id)?;
    if asset.owner == buyer {
        return Err(ChaincodeError::business(format!(
            "asset '{id}' is already owned by {buyer}"
        )));
    }
    let payment = [
        symbol,
        buyer.clone(),
        asset.owner.clone(),
        asset.appraised_value.to_string(),
        format!("asset {id}"),
    ];
    let args: Vec<Vec<u8>> = payment.into_iter().map(String::into_bytes).collect();
    stub.invoke_chaincode("token", "transfer", &args)?;
    asset.owner = buyer;
    put(stub, &asset)?;
    Ok(asset)
}

/// `list(page_size, bookmark)`: one page of assets, sorted by id.
fn list(
    stub: &mut dyn ChaincodeStub,
    (page_size, bookmark): (u32, String),
) -> Result<Page, ChaincodeError> {
    if page_size == 0 {
        return Err(invalid("list", "page_size must be greater than zero"));
    }
    let (entries, metadata) =
        stub.get_state_by_range_with_pagination(PREFIX, PREFIX_END, page_size, &bookmark)?;
    let assets = entries
        .iter()
        .map(|entry| decode(&entry.key, &entry.value))
        .collect::<Result<_, _>>()?;
    Ok(Page {
        assets,
        bookmark: metadata.bookmark,
    })
}

/// `history(id)`: every committed change of the asset, oldest first; empty
/// for an id that never existed.
fn history(stub: &mut dyn ChaincodeStub, (id,): (String,)) -> Result<Vec<Change>, ChaincodeError> {
    checked_id("history", &id)?;
    let key = key(&id);
    stub.get_history_for_key(&key)?
        .into_iter()
        .map(|change| {
            let asset = if change.is_delete {
                None
            } else {
                Some(decode(&key, &change.value)?)
            };
            Ok(Change {
                tx_id: change.tx_id,
                timestamp_ms: change.timestamp_ms,
                deleted: change.is_delete,
                asset,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
