//! `/plans`: plans as objects with versions (the rules are `planning::plans`'). Everyone reads
//! approved and superseded plans; planners and administrators also drafts and withdrawn ones;
//! administrators approve (`POST /plans/{id}/approve`) and withdraw (`POST /plans/{id}/withdraw`),
//! audited.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gis_core::layer::Access;
use planning::plans::{self, Approval, PlanError};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::audit::{self, RequestFacts};
use crate::error::AppError;
use crate::reader::Reader;
use gis_core::audit::AuditEvent;

/// The plans routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plans", get(list))
        .route("/plans/compare", get(compare))
        .route("/plans/{id}", get(one))
        .route("/plans/{id}/approve", post(approve))
        .route("/plans/{id}/withdraw", post(withdraw))
        .route("/plans/{id}/documents/{doc}", get(document))
}

/// Whether the reader reads drafts (planners, administrators).
pub fn reads_drafts(reader: &Reader) -> bool {
    reader.viewer().whole_access() >= Access::Internal
}

fn plan_error(e: PlanError) -> AppError {
    match e {
        PlanError::Db(db) => AppError::from(db),
        PlanError::NotFound(id) => AppError::NotFound(format!("there is no plan {id}")),
        e @ (PlanError::NotDraft { .. } | PlanError::ReplacedNotInForce { .. }) => {
            AppError::Conflict(e.to_string())
        }
        PlanError::Invalid(m) => AppError::BadRequest(m),
        e @ PlanError::DecisionRequired(_) => AppError::Unprocessable(e.to_string()),
        other => AppError::internal(other),
    }
}

fn id_of(text: &str, what: &str) -> Result<i64, AppError> {
    text.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        AppError::BadRequest(format!(
            "{what} must be a plan id (a positive whole number), not \"{}\"",
            text.chars().take(30).collect::<String>()
        ))
    })
}

fn private(mut r: Response, drafts: bool) -> Response {
    let value = if drafts {
        "private, no-store"
    } else {
        "public, max-age=60"
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("authorization"));
    r
}

fn links(plan: &plans::Plan) -> Value {
    let mut v = serde_json::to_value(plan).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("href".into(), json!(format!("/plans/{}", plan.id)));
        if let Some(docs) = obj.get_mut("documents").and_then(Value::as_array_mut) {
            for d in docs {
                let id = d.get("id").cloned().unwrap_or(Value::Null);
                if let Some(o) = d.as_object_mut() {
                    o.insert(
                        "href".into(),
                        json!(format!("/plans/{}/documents/{id}", plan.id)),
                    );
                }
            }
        }
    }
    v
}

/// `GET /plans`
pub async fn list(State(state): State<AppState>, reader: Reader) -> Result<Response, AppError> {
    let drafts = reads_drafts(&reader);
    let all = plans::list(state.pools.features(), drafts)
        .await
        .map_err(plan_error)?;
    let items: Vec<Value> = all.iter().map(links).collect();
    Ok(private(
        Json(json!({"plans": items, "drafts_included": drafts})).into_response(),
        drafts,
    ))
}

/// `GET /plans/{id}`: the plan, its versions (the chain it replaces and that replace it) and
/// documents.
pub async fn one(
    State(state): State<AppState>,
    reader: Reader,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = id_of(&id, "the plan")?;
    let drafts = reads_drafts(&reader);
    let plan = plans::get(state.pools.features(), id, drafts)
        .await
        .map_err(plan_error)?
        .ok_or_else(|| AppError::NotFound(format!("there is no plan {id}")))?;
    let versions = plans::versions(state.pools.features(), id, drafts)
        .await
        .map_err(plan_error)?;
    let mut v = links(&plan);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "versions".into(),
            versions
                .iter()
                .map(|p| json!({"id": p.id, "status": p.status, "decision_number": p.decision_number, "approved_on": p.approved_on, "href": format!("/plans/{}", p.id)}))
                .collect(),
        );
    }
    Ok(private(Json(v).into_response(), drafts))
}

/// `GET /plans/compare?from=A&to=B`: zones added, removed and changed as GeoJSON.
pub async fn compare(
    State(state): State<AppState>,
    reader: Reader,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let (Some(from), Some(to)) = (p.get("from"), p.get("to")) else {
        return Err(AppError::BadRequest(
            "name two plans: from=<id>&to=<id>".into(),
        ));
    };
    let (from, to) = (id_of(from, "from")?, id_of(to, "to")?);
    let drafts = reads_drafts(&reader);
    let fc = plans::compare(state.pools.features(), from, to, drafts)
        .await
        .map_err(plan_error)?;
    let mut r = Json(fc).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    Ok(private(r, drafts))
}

/// `GET /plans/{id}/documents/{doc}`: the document's bytes with its media type.
pub async fn document(
    State(state): State<AppState>,
    reader: Reader,
    Path((id, doc)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let id = id_of(&id, "the plan")?;
    let doc = id_of(&doc, "the document")?;
    let drafts = reads_drafts(&reader);
    let (name, media_type, stored) = plans::document(state.pools.features(), id, doc, drafts)
        .await
        .map_err(plan_error)?
        .ok_or_else(|| AppError::NotFound(format!("plan {id} has no document {doc}")))?;
    let bytes = match stored {
        plans::Stored::Bytes(bytes) => bytes,
        plans::Stored::File(rel) => read_document_file(&state, rel).await?,
    };
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // The name is stored without '/' or '\'; quotes and non-ASCII go percent-encoded.
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename*=UTF-8''{encoded}")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(private(r, drafts))
}

/// A document kept in the documents directory (`planning::documents`: nothing outside it is
/// read, links included).
async fn read_document_file(state: &AppState, rel: String) -> Result<Vec<u8>, AppError> {
    use planning::documents::DocumentError;
    let Some(dir) = state.plan_documents.get().cloned() else {
        return Err(AppError::Unavailable(
            "this document is kept in the plan documents directory, which this server is not configured with ([planning] documents_dir)".into(),
        ));
    };
    tokio::task::spawn_blocking(move || dir.read(&rel))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| match e {
            DocumentError::Missing(_) => {
                tracing::warn!(%e, "plan document file missing");
                AppError::NotFound("the document's file is missing on the server".into())
            }
            DocumentError::Outside { .. } => {
                tracing::error!(%e, "plan document path refused");
                AppError::Forbidden("the document's stored path leads outside the plan documents directory; it is not served".into())
            }
            other => AppError::internal(other),
        })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    decision_number: String,
    decision_date: Option<String>,
    authority: Option<String>,
    valid_from: Option<String>,
    valid_until: Option<String>,
}

/// The signed-in administrator who may change a plan's status (401 without a token, 403
/// without the role; `verb`: what is done to plans).
fn administrator<'a>(reader: &'a Reader, verb: &str) -> Result<&'a auth::Principal, AppError> {
    let Some(principal) = &reader.principal else {
        return Err(AppError::Unauthenticated(auth::AuthError::Missing));
    };
    if !principal.has_role(auth::Role::Admin) {
        return Err(AppError::Forbidden(format!(
            "plans are {verb} by administrators (role admin)"
        )));
    }
    Ok(principal)
}

fn day(v: Option<&String>) -> Result<Option<chrono::NaiveDate>, AppError> {
    v.map(|d| plans::parse_day(d).map_err(plan_error))
        .transpose()
}

/// `POST /plans/{id}/approve` (administrators): `{"decision_number": "…", "decision_date":
/// "YYYY-MM-DD", "authority": "…", "valid_from": …, "valid_until": …}`.
pub async fn approve(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    facts: RequestFacts,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let reader = reader?;
    let principal = administrator(&reader, "approved")?;
    let id = id_of(&id, "the plan")?;
    let b: ApproveBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "the body must be JSON {{\"decision_number\": \"…\", \"decision_date\": \"YYYY-MM-DD\", \"authority\": \"…\"}}: {e}"
        ))
    })?;
    let approval = Approval {
        decision_number: b.decision_number,
        decision_date: day(b.decision_date.as_ref())?,
        authority: b.authority,
        valid_from: day(b.valid_from.as_ref())?,
        valid_until: day(b.valid_until.as_ref())?,
        approved_on: None,
    };
    let plan = plans::approve(&state.pools.writes, id, &approval)
        .await
        .map_err(plan_error)?;
    // This instance drops the plan's tiles before answering (others on the notification).
    state.tiles.invalidate_all();
    audit::record(
        &state.audit,
        AuditEvent::Write,
        Some(principal),
        &facts,
        StatusCode::OK,
        Some(format!(
            "plan {id} approved by decision {}{}",
            approval.decision_number,
            plan.replaces
                .map(|r| format!(", superseding plan {r}"))
                .unwrap_or_default()
        )),
    );
    Ok(private(Json(links(&plan)).into_response(), true))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawBody {
    decision_number: Option<String>,
    decision_date: Option<String>,
}

/// `POST /plans/{id}/withdraw` (administrators): `{"decision_number": "…", "decision_date":
/// "YYYY-MM-DD"}` — a draft leaves review (the decision optional); an approved plan in force is
/// annulled by the decision and the plan it superseded is in force again (422 without one).
pub async fn withdraw(
    State(state): State<AppState>,
    reader: Result<Reader, AppError>,
    facts: RequestFacts,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let reader = reader?;
    let principal = administrator(&reader, "withdrawn")?;
    let id = id_of(&id, "the plan")?;
    let b: WithdrawBody = if body.is_empty() {
        WithdrawBody {
            decision_number: None,
            decision_date: None,
        }
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AppError::BadRequest(format!(
                "the body must be JSON {{\"decision_number\": \"…\", \"decision_date\": \"YYYY-MM-DD\"}}: {e}"
            ))
        })?
    };
    let by = plans::Withdrawal {
        decision_number: b.decision_number,
        decision_date: day(b.decision_date.as_ref())?,
    };
    let done = plans::withdraw(&state.pools.writes, id, &by)
        .await
        .map_err(plan_error)?;
    // This instance drops the plan's tiles before answering (others on the notification).
    state.tiles.invalidate_all();
    audit::record(
        &state.audit,
        AuditEvent::Write,
        Some(principal),
        &facts,
        StatusCode::OK,
        Some(format!(
            "plan {id} withdrawn{}{}",
            by.decision_number
                .as_deref()
                .map(|d| format!(" by decision {d}"))
                .unwrap_or_default(),
            done.restored
                .map(|r| format!(", plan {r} in force again"))
                .unwrap_or_default()
        )),
    );
    let mut v = links(&done.plan);
    v["restored"] = json!(done.restored);
    Ok(private(Json(v).into_response(), true))
}

/// The OpenAPI paths of `/plans`.
pub fn openapi_paths() -> Value {
    let problem = |what: &str| {
        json!({"description": what, "content": {"application/problem+json": {"schema": {
            "type": "object", "required": ["type", "title", "status"],
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"}}}}}})
    };
    let id = |name: &str, what: &str| json!({"name": name, "in": "path", "required": true, "description": what, "schema": {"type": "integer", "minimum": 1}});
    let compared = json!({"type": "object", "required": ["id", "name", "status"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "status": {"type": "string"},
        "decision_number": {"type": "string", "nullable": true},
        "decision_date": {"type": "string", "format": "date", "nullable": true}}});
    let plan = json!({"type": "object", "required": ["id", "name", "level", "status", "documents"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "level": {"type": "string", "enum": ["general", "zoning", "detailed"]},
            "status": {"type": "string", "enum": ["draft", "approved", "superseded", "withdrawn"]},
            "decision_number": {"type": "string", "nullable": true},
            "decision_date": {"type": "string", "format": "date", "nullable": true},
            "authority": {"type": "string", "nullable": true},
            "replaces": {"type": "integer", "nullable": true},
            "replaced_by": {"type": "integer", "nullable": true},
            "withdrawal_decision": {"type": "string", "nullable": true},
            "withdrawn_on": {"type": "string", "format": "date", "nullable": true},
            "documents": {"type": "array", "items": {"type": "object"}}}});
    json!({
        "/plans": {"get": {
            "operationId": "listPlans",
            "summary": "Plans: approved and superseded ones for everyone, drafts too for planners and administrators",
            "tags": ["Planning"],
            "responses": {"200": {"description": "The plans, newest first", "content": {"application/json": {"schema": {
                "type": "object", "required": ["plans"], "properties": {"plans": {"type": "array", "items": plan}}}}}}}
        }},
        "/plans/compare": {"get": {
            "operationId": "comparePlans",
            "summary": "Zones added, removed and changed from one plan version to another (GeoJSON)",
            "tags": ["Planning"],
            "parameters": [
                {"name": "from", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 1}, "description": "The earlier plan"},
                {"name": "to", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 1}, "description": "The later plan"}
            ],
            "responses": {
                "200": {"description": "A FeatureCollection; each feature's `change` is added, removed or changed, with the zone's attributes `before` and `after` (function, density, floors, height, setback, FAR) and whether its boundary moved; `plans` names both sides (`from`, `to`: id, name, status, decision number and date)", "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features", "plans"], "properties": {
                    "plans": {"type": "object", "properties": {"from": compared, "to": compared}}}}}}},
                "400": problem("Not two plan ids"),
                "404": problem("No such plan (drafts are not found by readers who do not read them)")
            }
        }},
        "/plans/{id}": {"get": {
            "operationId": "getPlan",
            "summary": "One plan with its versions (the chain it replaces and that replace it) and documents",
            "tags": ["Planning"],
            "parameters": [id("id", "The plan")],
            "responses": {"200": {"description": "The plan", "content": {"application/json": {"schema": plan}}},
                "400": problem("Not a plan id"), "404": problem("No such plan")}
        }},
        "/plans/{id}/approve": {"post": {
            "operationId": "approvePlan",
            "summary": "Approve a draft (administrators): it comes into force and supersedes the plan it replaces, in one transaction; tiles are invalidated",
            "tags": ["Planning"],
            "security": [{"bearer": []}],
            "parameters": [id("id", "The draft")],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["decision_number"], "additionalProperties": false,
                "properties": {"decision_number": {"type": "string", "minLength": 1, "maxLength": 100},
                    "decision_date": {"type": "string", "format": "date"},
                    "authority": {"type": "string"},
                    "valid_from": {"type": "string", "format": "date"},
                    "valid_until": {"type": "string", "format": "date"}}}}}},
            "responses": {"200": {"description": "The approved plan", "content": {"application/json": {"schema": plan}}},
                "400": problem("Bad body"), "401": problem("Not signed in"),
                "403": problem("Not an administrator"), "404": problem("No such plan"),
                "409": problem("Not a draft, or the plan it replaces is not in force")}
        }},
        "/plans/{id}/withdraw": {"post": {
            "operationId": "withdrawPlan",
            "summary": "Withdraw a plan (administrators): a draft leaves review; an approved plan in force is annulled by the decision given and the plan it superseded is in force again, in one transaction; tiles are invalidated",
            "tags": ["Planning"],
            "security": [{"bearer": []}],
            "parameters": [id("id", "The plan")],
            "requestBody": {"required": false, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": false,
                "properties": {"decision_number": {"type": "string", "minLength": 1, "maxLength": 100},
                    "decision_date": {"type": "string", "format": "date"}}}}}},
            "responses": {"200": {"description": "The withdrawn plan, with `restored`: the plan back in force, if any", "content": {"application/json": {"schema": plan}}},
                "400": problem("Bad body"), "401": problem("Not signed in"),
                "403": problem("Not an administrator"), "404": problem("No such plan"),
                "409": problem("Superseded or already withdrawn"),
                "422": problem("An approved plan and no decision annulling it")}
        }},
        "/plans/{id}/documents/{doc}": {"get": {
            "operationId": "getPlanDocument",
            "summary": "A document of a plan (the decision as PDF, …) with its media type",
            "tags": ["Planning"],
            "parameters": [id("id", "The plan"), id("doc", "The document")],
            "responses": {"200": {"description": "The document", "content": {"application/pdf": {}, "application/octet-stream": {}}},
                "400": problem("Not ids"), "403": problem("The document's stored path leads outside the documents directory"),
                "404": problem("No such document, or its file is missing"),
                "503": problem("The document is kept in a documents directory this server is not configured with")}
        }}
    })
}
