//! Writes through OGC API – Features Part 4 (create, replace, update, delete) on the layers
//! whose declaration names writers and whose owner implements edits (parcels:
//! [`land::edit`]). The handlers read the request (entity tag, reason and decision, the
//! feature or merge patch), ask the declaration who may write where
//! ([`gis_core::layer::Viewer::write_scope`]), hand the change to the owner and answer; the
//! rules and the history are the owner's.
//!
//! - `If-Match` is required (428 without; 412 with a stale tag, the problem saying who changed
//!   the parcel when); answers carry the new `ETag`.
//! - Every write carries a reason and the decision it rests on: headers `Edit-Reason` and
//!   `Edit-Document` (percent-encoded UTF-8), or a foreign member `"edit": {"reason",
//!   "document"}` in the body; missing ones are 422.
//! - A committed write drops this instance's affected tiles and remembered counts before it
//!   answers; other instances follow the change notification.
//! - A write storing a geometry says what snapping to the neighbours moved ([`land::snap`]):
//!   header `Bando-Snapped` (the count, `0` included) and, when it is not 0, the moved
//!   vertices as GeoJSON in the body (PUT/PATCH then answer 200 instead of 204; POST 201, and
//!   split/merge, carry it as `snapped`). The body's `neighbours` lists the neighbours that got
//!   the written vertices lying on their edges (shape unchanged; new version and `etag` each),
//!   so their shared stretch is the same vertices in both; the body is sent when either list
//!   is not empty.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::app::AppState;
use crate::audit::{self, RequestFacts};
use crate::error::{problem_response, problem_with_extensions, AppError};
use crate::reader::Reader;
use crate::routes::base_url;
use crate::routes::features::ApiError;
use gis_core::audit::AuditEvent;
use land::edit::{Change, Edit, EditError};

/// Conformance classes of the writes (OGC API – Features Part 4).
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
];

/// Largest request body of a write (a parcel with many vertices).
const MAX_BODY: usize = 4 << 20;

/// The header counting what snapping moved.
pub const SNAPPED_HEADER: &str = "bando-snapped";

/// What snapping moved, as GeoJSON: per move a LineString from where the vertex was drawn to
/// where it is stored (CRS84), with its kind, the neighbour and the distance in TM-3 metres;
/// `child` names the split or merge child it belongs to. The foreign member `neighbours`: the
/// neighbours given vertices (id, sheet, number, new version and tag, the vertices in CRS84;
/// `child` as above).
fn snapped_features<'a>(
    moves: impl Iterator<Item = (Option<i64>, &'a land::snap::Snapped)>,
    shared: impl Iterator<Item = (Option<i64>, &'a land::snap::Shared)>,
) -> Value {
    let neighbours: Vec<Value> = shared
        .map(|(child, n)| {
            let mut v = json!({"id": n.id, "sheet_number": n.sheet_number,
                "parcel_number": n.parcel_number, "version": n.version, "etag": n.etag,
                "vertices": n.vertices});
            if let Some(c) = child {
                v["child"] = json!(c);
            }
            v
        })
        .collect();
    let features: Vec<Value> = moves
        .map(|(child, m)| {
            let mut props = json!({"kind": m.kind, "neighbour": m.neighbour,
                "distance_m": (m.distance_m * 1e4).round() / 1e4});
            if let Some(c) = child {
                props["child"] = json!(c);
            }
            json!({"type": "Feature", "properties": props,
                "geometry": {"type": "LineString", "coordinates": [m.from, m.to]}})
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features, "neighbours": neighbours})
}

fn snapped_header(r: &mut Response, count: usize) {
    r.headers_mut()
        .insert(SNAPPED_HEADER, HeaderValue::from(count as u64));
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        let text = e.to_string();
        let response = match e {
            // Deadlines and outages are 503 like any other query's; the rest internal.
            EditError::Db(db) => return AppError::from(db).into(),
            EditError::NotFound(_) => problem_response(StatusCode::NOT_FOUND, Some(text)),
            EditError::Stale { current, .. } => {
                let mut r = problem_response(StatusCode::PRECONDITION_FAILED, Some(text));
                if let Ok(v) = HeaderValue::from_str(&current) {
                    r.headers_mut().insert(header::ETAG, v);
                }
                r
            }
            EditError::Rule { part, .. } => {
                let mut ext = Map::new();
                if let Some(p) = part {
                    ext.insert(
                        "part".into(),
                        json!({"type": "Feature", "properties": {}, "geometry": p}),
                    );
                }
                problem_with_extensions(StatusCode::UNPROCESSABLE_ENTITY, Some(text), ext)
            }
            EditError::Missing(_) => problem_response(StatusCode::UNPROCESSABLE_ENTITY, Some(text)),
            EditError::OutsideScope { .. } => problem_response(StatusCode::FORBIDDEN, Some(text)),
            EditError::Busy => problem_response(StatusCode::CONFLICT, Some(text)),
        };
        ApiError::from_response(response)
    }
}

/// Who writes, where: the layer (which must be one with an edit implementation), and the
/// editor's commune scope.
struct Writer {
    scope: Option<std::sync::Arc<[String]>>,
    name: String,
}

/// Whether writes go through to `layer`: its declaration names writers and its owner
/// implements edits (parcels: [`land::edit`]). The handlers and the OpenAPI document read it.
pub fn editable(layer: &dyn gis_core::layer::Layer) -> bool {
    layer.id() == land::tables::PARCELS.kind && !layer.writers().names().is_empty()
}

fn writer(state: &AppState, reader: &Reader, id: &str) -> Result<Writer, ApiError> {
    let layer = state
        .layers
        .get(id)
        .filter(|l| reader.sees(l.as_ref()))
        .ok_or_else(|| {
            ApiError::from(AppError::NotFound(format!(
                "there is no collection \"{}\"; see /collections",
                id.chars().take(60).collect::<String>()
            )))
        })?;
    if !editable(layer.as_ref()) {
        let mut r = problem_response(
            StatusCode::METHOD_NOT_ALLOWED,
            Some(format!("collection {id} is read-only")),
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Err(ApiError::from_response(r));
    }
    if !reader.is_signed_in() {
        // RFC 6750 §3: a request without credentials gets the bare challenge.
        let mut r = problem_response(
            StatusCode::UNAUTHORIZED,
            Some(
                "sign in to edit: send a bearer token of a land officer or an administrator".into(),
            ),
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Err(ApiError::from_response(r));
    }
    let scope = reader
        .viewer()
        .write_scope(layer.as_ref())
        .map_err(|m| ApiError::from(AppError::Forbidden(m)))?;
    Ok(Writer {
        scope,
        name: reader.name().to_string(),
    })
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    // Percent-encoded UTF-8 is the portable form; raw UTF-8 bytes are read too.
    let raw = std::str::from_utf8(headers.get(name)?.as_bytes()).ok()?;
    Some(percent_decode(raw))
}

/// Decodes `%XX` escapes (UTF-8); anything malformed is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

fn edit_of(headers: &HeaderMap, body: Option<&Value>, editor: &str) -> Result<Edit, ApiError> {
    let member = |k: &str| {
        body.and_then(|b| b.get("edit"))
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let reason = header_text(headers, "edit-reason")
        .or_else(|| member("reason"))
        .unwrap_or_default();
    let document = header_text(headers, "edit-document")
        .or_else(|| member("document"))
        .unwrap_or_default();
    Ok(Edit::new(editor, &reason, &document)?)
}

fn if_match(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(ApiError::from_response(problem_response(
            StatusCode::PRECONDITION_REQUIRED,
            Some("send If-Match with the ETag of the parcel as you read it (GET the item first), so that no one's change is overwritten unseen".into()),
        ))),
    }
}

fn feature_id(fid: &str) -> Result<i64, ApiError> {
    fid.parse().map_err(|_| {
        AppError::NotFound(format!(
            "there is no feature \"{}\"",
            fid.chars().take(40).collect::<String>()
        ))
        .into()
    })
}

/// Reads a JSON body (GeoJSON feature or merge patch).
fn json_body(headers: &HeaderMap, body: &Bytes, patch: bool) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let accepted: &[&str] = if patch {
        &["application/merge-patch+json", "application/json"]
    } else {
        &["application/geo+json", "application/json"]
    };
    if !accepted.contains(&media.as_str()) {
        return Err(ApiError::from_response(problem_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some(format!(
                "send the body as {} (was {})",
                accepted.join(" or "),
                if media.is_empty() { "none" } else { &media }
            )),
        )));
    }
    if body.len() > MAX_BODY {
        return Err(ApiError::from_response(problem_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some(format!("a write body is at most {} MiB", MAX_BODY >> 20)),
        )));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::from(AppError::BadRequest(format!("the body is not JSON: {e}"))))?;
    if !value.is_object() {
        return Err(AppError::BadRequest("the body must be a JSON object".into()).into());
    }
    Ok(value)
}

fn change_of(value: &Value, replace: bool) -> Result<Change, ApiError> {
    let properties = match value.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(AppError::BadRequest("properties must be an object".into()).into()),
    };
    let geometry = match value.get("geometry") {
        None | Some(Value::Null) => None,
        Some(g @ Value::Object(_)) => Some(g.clone()),
        Some(_) => {
            return Err(AppError::BadRequest("geometry must be a GeoJSON object".into()).into())
        }
    };
    if replace && geometry.is_none() {
        return Err(ApiError::from(EditError::Missing(
            "a replacement (PUT) is a whole feature: give its geometry".into(),
        )));
    }
    Ok(Change {
        properties,
        geometry,
        replace,
    })
}

/// The tolerances writes are checked under: the configuration's `[land]`, else the defaults.
fn tolerances(state: &AppState) -> land::edit::Tolerances {
    state.land.get().copied().unwrap_or_default()
}

/// Drops this instance's tiles and remembered counts of the area a write touched.
fn after_write(state: &AppState, bbox: [f64; 4]) {
    let table = format!(
        "{}.{}",
        land::tables::PARCELS.schema,
        land::tables::PARCELS.table
    );
    state.tiles.invalidate(&table, bbox);
}

/// Every committed write goes to the audit log (who, what, why, on which decision).
fn written(
    state: &AppState,
    reader: &Reader,
    facts: &RequestFacts,
    status: StatusCode,
    s: &land::edit::Saved,
    edit: &Edit,
) {
    audit::record(
        &state.audit,
        AuditEvent::Write,
        reader.principal.as_ref(),
        facts,
        status,
        Some(format!(
            "parcel {} version {}: {} ({})",
            s.id, s.version, edit.reason, edit.document
        )),
    );
}

/// The answer to a create (201) or an update (204, or 200 with the snapped vertices): `status`
/// with the moved vertices as the body when any moved.
fn saved(
    status: StatusCode,
    s: &land::edit::Saved,
    location: Option<String>,
    geometry_written: bool,
) -> Response {
    let mut r = if s.snapped.is_empty() && s.neighbours.is_empty() {
        status.into_response()
    } else {
        let mut r = (
            status,
            axum::Json(snapped_features(
                s.snapped.iter().map(|m| (None, m)),
                s.neighbours.iter().map(|n| (None, n)),
            )),
        )
            .into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        );
        r
    };
    if geometry_written {
        snapped_header(&mut r, s.snapped.len());
    }
    let etag = &s.etag;
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    if let Some(l) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

/// `POST /collections/{id}/items`: a new parcel (201 with `Location` and `ETag`).
pub async fn create(
    State(state): State<AppState>,
    reader: Reader,
    facts: RequestFacts,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let w = writer(&state, &reader, &id)?;
    let value = json_body(&headers, &body, false)?;
    let edit = edit_of(&headers, Some(&value), &w.name)?;
    let change = change_of(&value, false)?;
    let s = land::edit::create(
        &state.pools.writes,
        &change,
        &edit,
        w.scope.as_deref(),
        &tolerances(&state),
    )
    .await?;
    after_write(&state, s.bbox_3857);
    written(&state, &reader, &facts, StatusCode::CREATED, &s, &edit);
    let location = format!("{}/collections/{id}/items/{}", base_url(&headers), s.id);
    Ok(saved(StatusCode::CREATED, &s, Some(location), true))
}

/// `PUT /collections/{id}/items/{fid}`: replace a parcel's attributes and geometry.
pub async fn replace(
    State(state): State<AppState>,
    reader: Reader,
    facts: RequestFacts,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(state, reader, facts, id, fid, headers, body, true).await
}

/// `PATCH /collections/{id}/items/{fid}`: a JSON merge patch of a parcel.
pub async fn patch(
    State(state): State<AppState>,
    reader: Reader,
    facts: RequestFacts,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(state, reader, facts, id, fid, headers, body, false).await
}

#[allow(clippy::too_many_arguments)]
async fn write(
    state: AppState,
    reader: Reader,
    facts: RequestFacts,
    id: String,
    fid: String,
    headers: HeaderMap,
    body: Bytes,
    replace: bool,
) -> Result<Response, ApiError> {
    let w = writer(&state, &reader, &id)?;
    let fid = feature_id(&fid)?;
    let tag = if_match(&headers)?;
    let value = json_body(&headers, &body, !replace)?;
    let edit = edit_of(&headers, Some(&value), &w.name)?;
    let change = change_of(&value, replace)?;
    let s = land::edit::update(
        &state.pools.writes,
        fid,
        &tag,
        &change,
        &edit,
        w.scope.as_deref(),
        &tolerances(&state),
    )
    .await?;
    after_write(&state, s.bbox_3857);
    // 204, or 200 with what snapping moved and the neighbours it gave vertices.
    let status = if s.snapped.is_empty() && s.neighbours.is_empty() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    };
    written(&state, &reader, &facts, status, &s, &edit);
    Ok(saved(status, &s, None, change.geometry.is_some()))
}

/// `DELETE /collections/{id}/items/{fid}`: the parcel's lifespan ends (its history stays).
pub async fn delete(
    State(state): State<AppState>,
    reader: Reader,
    facts: RequestFacts,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let w = writer(&state, &reader, &id)?;
    let fid = feature_id(&fid)?;
    let tag = if_match(&headers)?;
    let edit = edit_of(&headers, None, &w.name)?;
    let s = land::edit::delete(&state.pools.writes, fid, &tag, &edit, w.scope.as_deref()).await?;
    after_write(&state, s.bbox_3857);
    written(&state, &reader, &facts, StatusCode::NO_CONTENT, &s, &edit);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /collections/{id}/items/{fid}/versions`: the parcel's history, oldest first, with the
/// properties the reader may read.
pub async fn versions(
    State(state): State<AppState>,
    reader: Reader,
    Path((id, fid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let layer = state
        .layers
        .get(&id)
        .filter(|l| reader.sees(l.as_ref()) && id == land::tables::PARCELS.kind)
        .ok_or_else(|| {
            ApiError::from(AppError::NotFound(format!(
                "collection \"{}\" keeps no history",
                id.chars().take(60).collect::<String>()
            )))
        })?;
    let fid = feature_id(&fid)?;
    let filter = readable_attributes(layer.as_ref(), &reader.sight(layer.as_ref()));
    let list = land::edit::versions(state.pools.features(), fid)
        .await
        .map_err(AppError::from)?;
    // A parcel never edited since its delivery answers its delivered state as version 1.
    if list.is_empty() {
        return Err(AppError::NotFound(format!("there is no parcel {fid}")).into());
    }
    let features: Vec<Value> = list
        .into_iter()
        .map(|v| {
            // Restricted properties stay restricted in history (and within the scope only).
            let props = filter(v.attributes);
            json!({
                "type": "Feature",
                "id": v.version,
                "geometry": v.geometry,
                "properties": props,
                "version": {
                    "version": v.version, "action": v.action,
                    "begin_lifespan": v.begin_lifespan, "end_lifespan": v.end_lifespan,
                    "editor": v.editor, "reason": v.reason, "document": v.document,
                },
            })
        })
        .collect();
    Ok(geojson(
        json!({"type": "FeatureCollection", "features": features}),
    ))
}

/// The cadastre's own write and history routes: split, merge, lineage.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/land/parcels/merge", post(merge))
        .route("/land/parcels/{fid}/split", post(split))
        .route("/land/parcels/{fid}/lineage", get(lineage))
        .route("/land/config", get(land_config))
}

/// `GET /land/config`: the tolerances writes are checked under (`[land]`), so the editor snaps
/// as the server does.
pub async fn land_config(State(state): State<AppState>) -> Response {
    let t = tolerances(&state);
    let mut r = axum::Json(json!({
        "snap_tolerance_m": t.snap_m,
        "overlap_tolerance_m2": t.overlap_m2,
        "sliver_width_m": t.sliver_m,
    }))
    .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The answer to a split or a merge: 201, `Location` of the lineage, the children with their
/// tags.
fn reshaped(headers: &HeaderMap, r: &land::lineage::Reshaped) -> Response {
    let base = base_url(headers);
    let children: Vec<Value> = r
        .children
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "commune_code": c.commune_code, "sheet_number": c.sheet_number,
                "parcel_number": c.parcel_number, "etag": c.etag, "area_m2": c.area_m2,
                "href": format!("{base}/collections/parcels/items/{}", c.id),
            })
        })
        .collect();
    let moves = r
        .children
        .iter()
        .flat_map(|c| c.snapped.iter().map(move |m| (Some(c.id), m)));
    let count = moves.clone().count();
    let shared = r
        .children
        .iter()
        .flat_map(|c| c.neighbours.iter().map(move |n| (Some(c.id), n)));
    let body = json!({"operation": r.operation, "parents": r.parents, "children": children,
        "snapped": snapped_features(moves, shared)});
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    snapped_header(&mut response, count);
    let first = r.children.first().map_or(0, |c| c.id);
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/land/parcels/{first}/lineage")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn reshaped_audit(
    state: &AppState,
    reader: &Reader,
    facts: &RequestFacts,
    r: &land::lineage::Reshaped,
    edit: &Edit,
) {
    let ids = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let children: Vec<i64> = r.children.iter().map(|c| c.id).collect();
    audit::record(
        &state.audit,
        AuditEvent::Write,
        reader.principal.as_ref(),
        facts,
        StatusCode::CREATED,
        Some(format!(
            "{} of parcels {} into {}: {} ({})",
            r.operation,
            ids(&r.parents),
            ids(&children),
            edit.reason,
            edit.document
        )),
    );
}

/// `POST /land/parcels/{id}/split` with `{"line": LineString (or a Feature with one),
/// "edit": {"reason", "document"}}` in `crs` (query parameter; CRS84 by default) and
/// `If-Match` with the parcel's tag: 201 with the children.
pub async fn split(
    State(state): State<AppState>,
    reader: Reader,
    facts: RequestFacts,
    Path(fid): Path<String>,
    axum::extract::Query(p): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let w = writer(&state, &reader, land::tables::PARCELS.kind)?;
    let fid = feature_id(&fid)?;
    let tag = if_match(&headers)?;
    let crs = crate::params::XyCrs::from_params(&state, &p).await?.0;
    let value = json_body(&headers, &body, false)?;
    let edit = edit_of(&headers, Some(&value), &w.name)?;
    let line = match value.get("line") {
        Some(f) if f.get("type").and_then(Value::as_str) == Some("Feature") => {
            f.get("geometry").cloned().unwrap_or(Value::Null)
        }
        Some(g @ Value::Object(_)) => g.clone(),
        _ => {
            return Err(ApiError::from(EditError::Missing(
                "give the cutting line as \"line\": a GeoJSON LineString crossing the parcel"
                    .into(),
            )))
        }
    };
    let epsg = i32::try_from(crs.epsg).map_err(|_| AppError::BadRequest("crs".into()))?;
    let r = land::lineage::split(
        &state.pools.writes,
        fid,
        &tag,
        &line,
        epsg,
        &edit,
        w.scope.as_deref(),
        &tolerances(&state),
    )
    .await?;
    after_write(&state, r.bbox_3857);
    reshaped_audit(&state, &reader, &facts, &r, &edit);
    Ok(reshaped(&headers, &r))
}

/// `POST /land/parcels/merge` with `{"ids": [..], "if_match": {"<id>": "<tag>", ..},
/// "edit": {..}}`; instead of `if_match`, an `If-Match` header may list every parent's tag.
pub async fn merge(
    State(state): State<AppState>,
    reader: Reader,
    facts: RequestFacts,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let w = writer(&state, &reader, land::tables::PARCELS.kind)?;
    let value = json_body(&headers, &body, false)?;
    let edit = edit_of(&headers, Some(&value), &w.name)?;
    let ids: Vec<i64> = match value.get("ids").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .map(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or_else(|| AppError::BadRequest("ids are parcel ids (whole numbers)".into()))?,
        None => {
            return Err(ApiError::from(EditError::Missing(
                "give the parcels to merge as \"ids\": [id, id, …]".into(),
            )))
        }
    };
    let header_tags = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let mut parents = Vec::with_capacity(ids.len());
    for id in ids {
        let tag = value
            .get("if_match")
            .and_then(|m| m.get(id.to_string()))
            .and_then(Value::as_str)
            .or(header_tags);
        let Some(tag) = tag else {
            return Err(ApiError::from_response(problem_response(
                StatusCode::PRECONDITION_REQUIRED,
                Some(format!(
                    "give the ETag of every parcel to merge (\"if_match\": {{\"{id}\": \"…\"}} or If-Match listing them); parcel {id} has none"
                )),
            )));
        };
        parents.push((id, tag.to_string()));
    }
    let r = land::lineage::merge(
        &state.pools.writes,
        &parents,
        &edit,
        w.scope.as_deref(),
        &tolerances(&state),
    )
    .await?;
    after_write(&state, r.bbox_3857);
    reshaped_audit(&state, &reader, &facts, &r, &edit);
    Ok(reshaped(&headers, &r))
}

/// What of a parcel's recorded attributes a reader may see: public properties, and restricted
/// ones only within the reader's scope (as in the living table).
fn readable_attributes(
    layer: &dyn gis_core::layer::Layer,
    sight: &gis_core::layer::Sight,
) -> impl Fn(Map<String, Value>) -> Map<String, Value> {
    let readable: Vec<String> = gis_core::features::visible_properties(layer, sight.access)
        .into_iter()
        .map(|p| p.name)
        .collect();
    let restricted: Vec<String> = layer
        .properties()
        .into_iter()
        .filter(|p| p.access == gis_core::layer::Access::Restricted)
        .map(|p| p.name)
        .collect();
    let scope = sight.scope.clone();
    move |attributes: Map<String, Value>| {
        let commune = attributes
            .get("commune_code")
            .and_then(Value::as_str)
            .unwrap_or("");
        let in_scope = scope.as_ref().is_none_or(|s| s.includes(commune));
        attributes
            .into_iter()
            .filter(|(k, _)| readable.contains(k) && (in_scope || !restricted.contains(k)))
            .collect()
    }
}

fn geojson(body: Value) -> Response {
    let mut r = (StatusCode::OK, axum::Json(body)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /land/parcels/{id}/lineage`: the parcel, its ancestors and its descendants
/// (recursively) as GeoJSON, each with its last version's geometry and the properties the
/// reader may read.
pub async fn lineage(
    State(state): State<AppState>,
    reader: Reader,
    Path(fid): Path<String>,
) -> Result<Response, ApiError> {
    let layer = state
        .layers
        .get(land::tables::PARCELS.kind)
        .filter(|l| reader.sees(l.as_ref()))
        .ok_or_else(|| ApiError::from(AppError::NotFound("there are no parcels".into())))?;
    let fid = feature_id(&fid)?;
    let filter = readable_attributes(layer.as_ref(), &reader.sight(layer.as_ref()));
    let nodes = land::lineage::lineage(state.pools.features(), fid)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| ApiError::from(AppError::NotFound(format!("there is no parcel {fid}"))))?;
    let features: Vec<Value> = nodes
        .into_iter()
        .map(|n| {
            let mut props = filter(n.attributes);
            props.insert("relation".into(), json!(n.relation));
            props.insert("depth".into(), json!(n.depth));
            props.insert("operation".into(), json!(n.operation));
            props.insert("at".into(), json!(n.at));
            props.insert("living".into(), json!(n.living));
            props.insert("parents".into(), json!(n.parents));
            props.insert("children".into(), json!(n.children));
            json!({"type": "Feature", "id": n.id, "geometry": n.geometry, "properties": props})
        })
        .collect();
    Ok(geojson(
        json!({"type": "FeatureCollection", "parcel": fid, "features": features}),
    ))
}

/// The writes, the history and the cadastre's own routes in the OpenAPI document, for every
/// layer writes go through to ([`editable`]); merged into the collections' paths.
pub fn openapi_paths(layers: &gis_core::layer::LayerRegistry) -> Value {
    let problem = |what: &str| json!({"description": what, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let text = |name: &str, required: bool, what: &str| {
        json!({"name": name, "in": "header", "required": required, "description": what,
            "schema": {"type": "string", "minLength": 1}})
    };
    let if_match = |required: bool| {
        text(
            "If-Match",
            required,
            "The ETag of the feature as read (GET the item first); a stale one is 412",
        )
    };
    let why = [
        text("Edit-Reason", false, "Why (percent-encoded UTF-8, at most 500 characters); or `edit.reason` in the body. Required one way or the other (422)."),
        text("Edit-Document", false, "The decision the change rests on, number and date (percent-encoded UTF-8, at most 200 characters); or `edit.document` in the body. Required one way or the other (422)."),
    ];
    let fid = json!({"name": "featureId", "in": "path", "required": true, "description": "Feature id",
        "schema": {"type": "integer", "minimum": 1}, "example": 1});
    let etag = json!({"description": "The feature's new entity tag", "schema": {"type": "string"}});
    let snapped_count = json!({"description": "How many vertices snapping to the neighbours' boundaries moved or added (within `[land] snap_tolerance_m` of a neighbour's vertex, else of its edge; a neighbour's vertex along an edge is added); sent when the write stored a geometry",
        "schema": {"type": "integer", "minimum": 0}});
    let snapped = json!({"type": "object", "required": ["type", "features"],
        "description": "What snapping moved: per vertex a LineString from where it was drawn to where it is stored (CRS84); `neighbours`: the neighbours that got the written vertices lying on their edges inserted, so both share the same vertices along their common boundary (their shape does not change, by at most 1e-9 m; each gets a version, reason saying so, and a new ETag; only neighbours in the writer's communes and the parcel's TM-3 zone)",
        "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
            "neighbours": {"type": "array", "items": {"type": "object",
                "required": ["id", "sheet_number", "parcel_number", "version", "etag", "vertices"], "properties": {
                "id": {"type": "integer"}, "sheet_number": {"type": "integer"}, "parcel_number": {"type": "integer"},
                "version": {"type": "integer", "description": "The neighbour's new version"},
                "etag": {"type": "string", "description": "The neighbour's new ETag"},
                "vertices": {"type": "array", "description": "The vertices inserted (CRS84)", "items": {"type": "array", "items": {"type": "number"}}},
                "child": {"type": "integer", "description": "Split and merge: the child whose vertices they are"}}}},
            "features": {"type": "array", "items": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
                "type": {"type": "string", "enum": ["Feature"]},
                "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {
                    "type": {"type": "string", "enum": ["LineString"]},
                    "coordinates": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "array", "items": {"type": "number"}}}}},
                "properties": {"type": "object", "required": ["kind", "neighbour", "distance_m"], "properties": {
                    "kind": {"type": "string", "enum": ["vertex", "edge", "inserted"]},
                    "neighbour": {"type": "integer", "description": "The neighbour parcel's id"},
                    "distance_m": {"type": "number", "minimum": 0, "description": "How far, in TM-3 metres"},
                    "child": {"type": "integer", "description": "Split and merge: the child it belongs to"}}}}}}}});
    let edit = json!({"type": "object", "description": "Reason and decision, when not in the headers",
        "properties": {"reason": {"type": "string", "maxLength": 500}, "document": {"type": "string", "maxLength": 200}}});
    let geometry = json!({"type": "object", "required": ["type"], "description": "GeoJSON geometry in CRS84",
        "properties": {"type": {"type": "string"}, "coordinates": {"type": "array"}}});
    let feature = json!({"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]}, "geometry": geometry.clone(),
        "properties": {"type": "object", "description": "The layer's properties (see /collections/{collectionId}/queryables); the identity (commune, sheet, number) only when creating"},
        "edit": edit.clone()}});
    let patch = json!({"type": "object", "description": "JSON merge patch (RFC 7396): the members given replace, null clears", "properties": {
        "geometry": geometry.clone(), "properties": {"type": "object"}, "edit": edit.clone()}});
    let feature_body = json!({"required": true, "content": {
        "application/geo+json": {"schema": feature.clone()}, "application/json": {"schema": feature}}});
    // What any write may answer besides its success.
    let refusals = |tag: bool| {
        let mut r = json!({
            "400": problem("The body is not a JSON object, or a member has the wrong type"),
            "401": {"description": "No bearer token: sign in as a land officer or an administrator",
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            "403": problem("The user may not write this layer, or the feature lies outside their communes"),
            "404": problem("No such collection or feature"),
            "409": problem("Concurrent edits of the same or neighbouring features kept aborting this one; try again"),
            "413": problem("The body is larger than 4 MiB"),
            "415": problem("The body's media type is not one of the request body's"),
            "422": {"description": "A cadastral rule refuses the result (invalid geometry, outside the commune, an overlap beyond `[land] overlap_tolerance_m2`, a gap narrower than `[land] sliver_width_m` opened along a boundary shared before the write or left between merged parents, split children not adding up to the parent's area after snapping, …), or the reason or the decision is missing; `part` is the offending part (overlap, gap, …) as a GeoJSON Feature (CRS84)",
                "content": {"application/problem+json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Problem"},
                    {"type": "object", "properties": {"part": {"type": "object"}}}]}}}},
            "500": problem("Internal error; quote `request_id`"),
            "503": problem("The database is not answering; `Retry-After` gives the seconds to wait"),
        });
        if tag {
            r["412"] = json!({"description": "The If-Match tag is stale: `detail` says who changed the feature when; `ETag` is the current tag",
                "headers": {"ETag": etag.clone()},
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
            r["428"] = problem("No If-Match: read the feature first and send its ETag");
        }
        r
    };
    let with = |mut r: Value, code: &str, ok: Value| {
        r[code] = ok;
        r
    };
    let params = |first: Vec<Value>| {
        let mut all = first;
        all.extend(why.iter().cloned());
        Value::Array(all)
    };
    let secured = json!([{"bearer": []}]);
    let history = json!({"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"type": "object", "required": ["type", "id", "geometry", "properties", "version"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
            "geometry": {"type": "object", "nullable": true}, "properties": {"type": "object"},
            "version": {"type": "object", "required": ["version", "action", "begin_lifespan", "editor", "reason", "document"], "properties": {
                "version": {"type": "integer", "minimum": 1},
                "action": {"type": "string", "enum": ["import", "create", "update", "delete", "split", "merge"]},
                "begin_lifespan": {"type": "string", "format": "date-time"},
                "end_lifespan": {"type": "string", "format": "date-time", "nullable": true},
                "editor": {"type": "string"}, "reason": {"type": "string"}, "document": {"type": "string"}}}}}}}});
    let reshaped = json!({"description": "The children (201); `Location` is the lineage of the first; `snapped`: what snapping the children to the parcels around them moved, and in `neighbours` the parcels given their vertices (new ETags)",
        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}, "Bando-Snapped": snapped_count.clone()},
        "content": {"application/json": {"schema": {"type": "object", "required": ["operation", "parents", "children"], "properties": {
            "operation": {"type": "string", "enum": ["split", "merge"]},
            "snapped": snapped.clone(),
            "parents": {"type": "array", "items": {"type": "integer"}},
            "children": {"type": "array", "items": {"type": "object", "required": ["id", "etag", "href"], "properties": {
                "id": {"type": "integer"}, "commune_code": {"type": "string"}, "sheet_number": {"type": "integer"},
                "parcel_number": {"type": "integer"}, "etag": {"type": "string"}, "area_m2": {"type": "number"},
                "href": {"type": "string", "format": "uri"}}}}}}}}});
    let anonymous = gis_core::layer::Viewer::anonymous();
    let mut paths = Map::new();
    for layer in layers
        .iter()
        .filter(|l| editable(l.as_ref()) && anonymous.sees(l.as_ref()))
    {
        let id = layer.id();
        paths.insert(format!("/collections/{id}/items"), json!({"post": {
            "operationId": format!("create_{id}"),
            "summary": "Create a feature (OGC API – Features Part 4); the server assigns its id",
            "tags": ["Edit"], "security": secured.clone(), "parameters": params(vec![]),
            "requestBody": feature_body.clone(),
            "responses": with(refusals(false), "201", json!({"description": "Created; when snapping moved vertices or gave neighbours vertices, the body lists them (the neighbours with their new ETags)",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}, "ETag": etag.clone(),
                    "Bando-Snapped": snapped_count.clone()},
                "content": {"application/geo+json": {"schema": snapped.clone()}}})),
        }}));
        let saved = json!({"description": "Saved (nothing snapped, no neighbour given vertices)",
            "headers": {"ETag": etag.clone(), "Bando-Snapped": snapped_count.clone()}});
        let saved_snapped = json!({"description": "Saved, and snapping to the neighbours moved the vertices listed, or gave the neighbours in `neighbours` the vertices lying on their edges (their new ETags there)",
            "headers": {"ETag": etag.clone(), "Bando-Snapped": snapped_count.clone()},
            "content": {"application/geo+json": {"schema": snapped.clone()}}});
        let updated = with(with(refusals(true), "204", saved), "200", saved_snapped);
        paths.insert(format!("/collections/{id}/items/{{featureId}}"), json!({
            "put": {"operationId": format!("replace_{id}"),
                "summary": "Replace a feature: every property not given is cleared (Part 4)",
                "tags": ["Edit"], "security": secured.clone(),
                "parameters": params(vec![fid.clone(), if_match(true)]),
                "requestBody": feature_body.clone(),
                "responses": updated.clone()},
            "patch": {"operationId": format!("update_{id}"),
                "summary": "Update a feature with a JSON merge patch (Part 4)",
                "tags": ["Edit"], "security": secured.clone(),
                "parameters": params(vec![fid.clone(), if_match(true)]),
                "requestBody": {"required": true, "content": {
                    "application/merge-patch+json": {"schema": patch.clone()}, "application/json": {"schema": patch.clone()}}},
                "responses": updated},
            "delete": {"operationId": format!("delete_{id}"),
                "summary": "Delete a feature: its lifespan ends, its history stays (Part 4)",
                "tags": ["Edit"], "security": secured.clone(),
                "parameters": params(vec![fid.clone(), if_match(true)]),
                "responses": with(refusals(true), "204", json!({"description": "Deleted"}))},
        }));
        paths.insert(format!("/collections/{id}/items/{{featureId}}/versions"), json!({"get": {
            "operationId": format!("versions_{id}"),
            "summary": "Every version of a feature, oldest first (a feature never edited since its delivery: its delivered state as version 1, `import`); restricted properties only for readers who read them",
            "tags": ["Edit"], "parameters": [fid.clone()],
            "responses": {"200": {"description": "The versions", "content": {"application/geo+json": {"schema": history.clone()}}},
                "404": problem("No such feature (never existed)"),
                "503": problem("The database is not answering")},
        }}));
        if id != land::tables::PARCELS.kind {
            continue;
        }
        paths.insert("/land/parcels/{featureId}/split".into(), json!({"post": {
            "operationId": "splitParcel",
            "summary": "Split a parcel with a cutting line: the parent's lifespan ends, the children get the next free numbers of the sheet",
            "tags": ["Edit"], "security": secured.clone(),
            "parameters": params(vec![fid.clone(), if_match(true),
                json!({"name": "crs", "in": "query", "required": false, "description": "CRS of the line (CRS84 by default)", "schema": {"type": "string"}})]),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["line"], "properties": {
                "line": {"description": "A GeoJSON LineString crossing the parcel (or a Feature with one)", "type": "object"},
                "edit": edit.clone()}}}}},
            "responses": with(refusals(true), "201", reshaped.clone()),
        }}));
        let mut merge_refusals = refusals(true);
        merge_refusals["428"] =
            problem("A parent without a tag: give `if_match` for every id, or If-Match");
        paths.insert("/land/parcels/merge".into(), json!({"post": {
            "operationId": "mergeParcels",
            "summary": "Merge adjacent parcels of one sheet into one with the next free number",
            "tags": ["Edit"], "security": secured.clone(),
            "parameters": params(vec![if_match(false)]),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["ids"], "properties": {
                "ids": {"type": "array", "minItems": 2, "items": {"type": "integer", "minimum": 1}},
                "if_match": {"type": "object", "description": "Each parent's ETag by id", "additionalProperties": {"type": "string"}},
                "edit": edit.clone()}}}}},
            "responses": with(merge_refusals, "201", reshaped.clone()),
        }}));
        paths.insert("/land/config".into(), json!({"get": {
            "operationId": "landConfig",
            "summary": "The tolerances parcel writes are checked under (`[land]` of the configuration)",
            "tags": ["Edit"],
            "responses": {"200": {"description": "Snapping tolerance (m), overlap tolerance (m²) and sliver width (m)",
                "content": {"application/json": {"schema": {"type": "object",
                    "required": ["snap_tolerance_m", "overlap_tolerance_m2", "sliver_width_m"], "properties": {
                        "snap_tolerance_m": {"type": "number", "minimum": 0},
                        "overlap_tolerance_m2": {"type": "number", "minimum": 0},
                        "sliver_width_m": {"type": "number", "minimum": 0, "description": "Gaps narrower than this opened along a former shared boundary (or between merged parents) are refused (422); 0: no gap rule"}}}}}}},
        }}));
        paths.insert("/land/parcels/{featureId}/lineage".into(), json!({"get": {
            "operationId": "parcelLineage",
            "summary": "A parcel's ancestors and descendants (split, merge), recursively, as GeoJSON",
            "tags": ["Edit"], "parameters": [fid.clone()],
            "responses": {"200": {"description": "The parcel and its lineage; `relation`, `depth`, `parents`, `children` per feature",
                    "content": {"application/geo+json": {"schema": {"type": "object", "required": ["type", "features"], "properties": {
                        "type": {"type": "string", "enum": ["FeatureCollection"]}, "parcel": {"type": "integer"},
                        "features": {"type": "array", "items": {"type": "object"}}}}}}},
                "404": problem("No such parcel"),
                "503": problem("The database is not answering")},
        }}));
    }
    Value::Object(paths)
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding_reads_utf8_and_keeps_malformed_text() {
        assert_eq!(
            percent_decode("Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh"),
            "Quyết định"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("plain"), "plain");
    }
}
