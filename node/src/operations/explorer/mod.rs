//! The web explorer a peer's operations listener serves: server-rendered
//! pages under `/explorer` ([`html`]) and their JSON twins under `/api`
//! ([`view`]'s data as is), read from the peer's own ledger on blocking
//! threads. Read access is the operations listener's.

pub mod html;
pub mod view;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use view::Source;

/// Whether a page answers as HTML or as its JSON twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
}

/// Runs `read` on a blocking thread and answers with its data as `format`
/// (HTML through `render`); 404 when it found nothing.
async fn answer<T, R>(
    source: Arc<Source>,
    format: Format,
    read: R,
    render: fn(&T) -> String,
) -> Response
where
    T: Serialize + Send + 'static,
    R: FnOnce(&Source) -> Result<Option<T>, crate::ledger::LedgerError> + Send + 'static,
{
    let got = tokio::task::spawn_blocking(move || read(&source)).await;
    let data = match got {
        Ok(Ok(Some(d))) => d,
        Ok(Ok(None)) => return (StatusCode::NOT_FOUND, "not found").into_response(),
        Ok(Err(e)) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match format {
        Format::Html => Html(render(&data)).into_response(),
        Format::Json => Json(data).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct BlocksQuery {
    before: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct StateQuery {
    #[serde(default)]
    prefix: String,
    start: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    key: String,
}

/// The explorer's routes, HTML and JSON, over `source`.
pub fn routes(source: Arc<Source>) -> Router {
    let mut r = Router::new();
    for (prefix, format) in [("/explorer", Format::Html), ("/api", Format::Json)] {
        let root = if format == Format::Html {
            "/explorer".to_owned()
        } else {
            "/api/dashboard".to_owned()
        };
        r = r
            .route(
                &root,
                get(move |State(s): State<Arc<Source>>| async move {
                    let health = match &s.health {
                        Some(h) => Some(h.run().await),
                        None => None,
                    };
                    answer(
                        s,
                        format,
                        move |s| {
                            let mut d = s.dashboard(crate::identity::now_unix())?;
                            d.health = health;
                            Ok(Some(d))
                        },
                        html::dashboard,
                    )
                    .await
                }),
            )
            .route(
                &format!("{prefix}/blocks"),
                get(
                    move |State(s): State<Arc<Source>>, Query(q): Query<BlocksQuery>| async move {
                        answer(
                            s,
                            format,
                            move |s| s.blocks(q.before).map(Some),
                            html::blocks,
                        )
                        .await
                    },
                ),
            )
            .route(
                &format!("{prefix}/blocks/{{number}}"),
                get(
                    move |State(s): State<Arc<Source>>, Path(n): Path<u64>| async move {
                        answer(s, format, move |s| s.block(n), html::block).await
                    },
                ),
            )
            .route(
                &format!("{prefix}/tx/{{tx_id}}"),
                get(
                    move |State(s): State<Arc<Source>>, Path(id): Path<String>| async move {
                        answer(s, format, move |s| s.tx(&id), html::tx).await
                    },
                ),
            )
            .route(
                &format!("{prefix}/state/{{namespace}}"),
                get(
                    move |State(s): State<Arc<Source>>,
                          Path(ns): Path<String>,
                          Query(q): Query<StateQuery>| async move {
                        answer(
                            s,
                            format,
                            move |s| s.state(&ns, &q.prefix, q.start.as_deref()).map(Some),
                            html::state,
                        )
                        .await
                    },
                ),
            )
            .route(
                &format!("{prefix}/history/{{namespace}}"),
                get(
                    move |State(s): State<Arc<Source>>,
                          Path(ns): Path<String>,
                          Query(q): Query<HistoryQuery>| async move {
                        answer(
                            s,
                            format,
                            move |s| s.history(&ns, &q.key).map(Some),
                            html::history,
                        )
                        .await
                    },
                ),
            )
            .route(
                &format!("{prefix}/chaincodes"),
                get(move |State(s): State<Arc<Source>>| async move {
                    answer(
                        s,
                        format,
                        |s| s.chaincodes().map(Some),
                        |c| html::chaincodes(c),
                    )
                    .await
                }),
            )
            .route(
                &format!("{prefix}/orgs"),
                get(move |State(s): State<Arc<Source>>| async move {
                    answer(s, format, |s| Ok(Some(s.orgs())), |o| html::orgs(o)).await
                }),
            );
    }
    r.with_state(source)
}
