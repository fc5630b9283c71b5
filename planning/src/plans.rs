//! Plans as objects with versions: a plan (name, level, approving decision, authority,
//! validity, status `draft` → `approved` → `superseded`, or `withdrawn`; the plan it replaces)
//! owns the zones, red lines and building lines carrying its id, and its documents (decisions as
//! PDF, kept in the database). Importing makes a draft ([`create_draft`], [`check_importable`]);
//! [`approve`] approves a draft and supersedes the plan it replaces in one transaction, and
//! notifies `bando_layer_changes` with the area of both so tile caches drop what changed;
//! [`check_validity`] does the same when a validity ends or starts with no edit at all.
//! [`compare`] lists the zones added, removed or changed between two versions as GeoJSON.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

/// The tables whose rows belong to a plan.
const PLAN_TABLES: [&str; 4] = [
    "planning.zones",
    "planning.red_lines",
    "planning.building_lines",
    "planning.buildings",
];

/// Errors of the plans.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The database failed.
    #[error("plans: {0}")]
    Db(#[from] sqlx::Error),
    /// No such plan (or not one this reader sees).
    #[error("there is no plan {0}")]
    NotFound(i64),
    /// The plan is not a draft (approval, import).
    #[error("plan {id} is {status}, not a draft; {what}")]
    NotDraft {
        /// Plan.
        id: i64,
        /// Its status.
        status: String,
        /// What cannot be done.
        what: &'static str,
    },
    /// The plan a draft replaces is not the approved one in force.
    #[error("plan {id} replaces plan {replaces}, which is {status}; only an approved plan can be superseded")]
    ReplacedNotInForce {
        /// Draft.
        id: i64,
        /// The plan it replaces.
        replaces: i64,
        /// That plan's status.
        status: String,
    },
    /// A value given by the caller is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// An approved plan is annulled only by a decision, and none was given.
    #[error("plan {0} is approved and in force: annulling it needs the decision that does (decision_number)")]
    DecisionRequired(i64),
}

/// A plan level.
pub const LEVELS: [&str; 3] = ["general", "zoning", "detailed"];

/// A new draft plan.
#[derive(Debug, Clone, Default)]
pub struct NewPlan {
    /// Name (e.g. "Quy hoạch chi tiết 1/500 khu dân cư Tiến Hưng").
    pub name: String,
    /// `general`, `zoning` (1:2000) or `detailed` (1:500).
    pub level: String,
    /// The plan this one amends or replaces, if any.
    pub replaces: Option<i64>,
    /// The approving authority, when known already.
    pub authority: Option<String>,
    /// Who made the draft.
    pub created_by: Option<String>,
}

/// An approval.
#[derive(Debug, Clone, Default)]
pub struct Approval {
    /// Decision number (e.g. "1234/QĐ-UBND").
    pub decision_number: String,
    /// Decision date (defaults to the approval day).
    pub decision_date: Option<NaiveDate>,
    /// Approving authority (e.g. "UBND tỉnh Đồng Nai").
    pub authority: Option<String>,
    /// In force from (defaults to the approval day).
    pub valid_from: Option<NaiveDate>,
    /// In force until, if limited.
    pub valid_until: Option<NaiveDate>,
    /// The approval day (defaults to today; tests and back-filled history give one).
    pub approved_on: Option<NaiveDate>,
}

/// A withdrawal: the decision annulling an approved plan (required for one) or ending a
/// draft's review (optional).
#[derive(Debug, Clone, Default)]
pub struct Withdrawal {
    /// Decision number (e.g. "567/QĐ-UBND").
    pub decision_number: Option<String>,
    /// Decision date.
    pub decision_date: Option<NaiveDate>,
}

/// A document of a plan (without its bytes).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Document {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// File name.
    pub file_name: String,
    /// Media type (e.g. `application/pdf`).
    pub media_type: String,
    /// Size in bytes.
    pub bytes: i64,
}

/// A plan as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Plan {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// `general`, `zoning` or `detailed`.
    pub level: String,
    /// `draft`, `approved`, `superseded` or `withdrawn`.
    pub status: String,
    /// Approving decision number.
    pub decision_number: Option<String>,
    /// Decision date (ISO 8601).
    pub decision_date: Option<String>,
    /// Approving authority.
    pub authority: Option<String>,
    /// In force from.
    pub valid_from: Option<String>,
    /// In force until.
    pub valid_until: Option<String>,
    /// The plan this one replaces.
    pub replaces: Option<i64>,
    /// The plan that replaced this one (or drafts replacing it, for planners).
    pub replaced_by: Option<i64>,
    /// Day of approval.
    pub approved_on: Option<String>,
    /// Day it was superseded.
    pub superseded_on: Option<String>,
    /// The decision that withdrew (annulled) it.
    pub withdrawal_decision: Option<String>,
    /// Day it was withdrawn.
    pub withdrawn_on: Option<String>,
    /// Zones in this version.
    pub zones: i64,
    /// Red lines in this version.
    pub red_lines: i64,
    /// Building lines in this version.
    pub building_lines: i64,
    /// Documents.
    #[sqlx(skip)]
    pub documents: Vec<Document>,
}

const PLAN_SELECT: &str = "SELECT p.id, p.name, p.level, p.status, p.decision_number,
        p.decision_date::text, p.authority, p.valid_from::text, p.valid_until::text, p.replaces,
        (SELECT max(n.id) FROM planning.plans n WHERE n.replaces = p.id AND n.status <> 'withdrawn'
           AND ($1 OR n.status <> 'draft')) AS replaced_by,
        p.approved_on::text, p.superseded_on::text, p.withdrawal_decision, p.withdrawn_on::text,
        (SELECT count(*) FROM planning.zones z WHERE z.plan_id = p.id) AS zones,
        (SELECT count(*) FROM planning.red_lines r WHERE r.plan_id = p.id) AS red_lines,
        (SELECT count(*) FROM planning.building_lines b WHERE b.plan_id = p.id) AS building_lines
     FROM planning.plans p
     WHERE ($1 OR p.status IN ('approved', 'superseded'))";

/// Makes a draft plan; its id.
pub async fn create_draft(pool: &PgPool, plan: &NewPlan) -> Result<i64, PlanError> {
    let name = plan.name.trim();
    if name.is_empty() || name.chars().count() > 300 {
        return Err(PlanError::Invalid(
            "a plan needs a name of 1 to 300 characters".into(),
        ));
    }
    let level = if plan.level.is_empty() {
        "detailed"
    } else {
        plan.level.as_str()
    };
    if !LEVELS.contains(&level) {
        return Err(PlanError::Invalid(format!(
            "plan level {level:?} is not one of {}",
            LEVELS.join(", ")
        )));
    }
    if let Some(old) = plan.replaces {
        let found: Option<String> =
            sqlx::query_scalar("SELECT status FROM planning.plans WHERE id = $1")
                .bind(old)
                .fetch_optional(pool)
                .await?;
        if found.is_none() {
            return Err(PlanError::NotFound(old));
        }
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO planning.plans (name, level, replaces, authority, created_by)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(level)
    .bind(plan.replaces)
    .bind(&plan.authority)
    .bind(&plan.created_by)
    .fetch_one(pool)
    .await?)
}

/// Whether features may be imported into plan `id`: only drafts change.
pub async fn check_importable(pool: &PgPool, id: i64) -> Result<(), PlanError> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM planning.plans WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    match status.as_deref() {
        None => Err(PlanError::NotFound(id)),
        Some("draft") => Ok(()),
        Some(other) => Err(PlanError::NotDraft {
            id,
            status: other.to_string(),
            what: "an approved plan is changed by a new draft that replaces it (--plan NEW)",
        }),
    }
}

/// Every plan `drafts` readers see (planners: drafts and withdrawn ones too), newest first.
pub async fn list(pool: &PgPool, drafts: bool) -> Result<Vec<Plan>, PlanError> {
    let mut conn = pool.acquire().await?;
    let plans: Vec<Plan> = sqlx::query_as(&format!("{PLAN_SELECT} ORDER BY p.id DESC"))
        .bind(drafts)
        .fetch_all(&mut *conn)
        .await?;
    with_documents(&mut conn, plans).await
}

/// `plans` with their documents attached.
async fn with_documents(
    conn: &mut PgConnection,
    mut plans: Vec<Plan>,
) -> Result<Vec<Plan>, PlanError> {
    let docs = documents_of(conn, &plans.iter().map(|p| p.id).collect::<Vec<_>>()).await?;
    for p in &mut plans {
        p.documents = docs
            .iter()
            .filter(|(plan, _)| *plan == p.id)
            .map(|(_, d)| d.clone())
            .collect();
    }
    Ok(plans)
}

/// One plan, if the reader sees it.
pub async fn get(pool: &PgPool, id: i64, drafts: bool) -> Result<Option<Plan>, PlanError> {
    let plan: Option<Plan> = sqlx::query_as(&format!("{PLAN_SELECT} AND p.id = $2"))
        .bind(drafts)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(mut plan) = plan else {
        return Ok(None);
    };
    plan.documents = documents_of(&mut *pool.acquire().await?, &[id])
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    Ok(Some(plan))
}

/// The versions of the plan `id` belongs to: the chain of plans it replaces and that replace
/// it, oldest first (as the reader sees them).
pub async fn versions(pool: &PgPool, id: i64, drafts: bool) -> Result<Vec<Plan>, PlanError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "WITH RECURSIVE back(id, replaces) AS (
             SELECT id, replaces FROM planning.plans WHERE id = $1
             UNION SELECT p.id, p.replaces FROM planning.plans p JOIN back b ON p.id = b.replaces),
         fwd(id) AS (
             SELECT $1::bigint
             UNION SELECT p.id FROM planning.plans p JOIN fwd f ON p.replaces = f.id)
         SELECT id FROM back UNION SELECT id FROM fwd ORDER BY 1",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let all = list(pool, drafts).await?;
    let mut out: Vec<Plan> = all.into_iter().filter(|p| ids.contains(&p.id)).collect();
    out.sort_by_key(|p| p.id);
    Ok(out)
}

async fn documents_of(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<(i64, Document)>, PlanError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        plan_id: i64,
        #[sqlx(flatten)]
        doc: Document,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT plan_id, id, title, file_name, media_type, coalesce(octet_length(content)::bigint, file_bytes, 0) AS bytes
         FROM planning.plan_documents WHERE plan_id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.plan_id, r.doc)).collect())
}

/// The plans in force (or, with `drafts`, drafts too) among `ids`, oldest first: only those
/// read (a report names a few; every plan with its counts was read per sheet before).
pub async fn summaries(
    conn: &mut PgConnection,
    ids: &[i64],
    drafts: bool,
) -> Result<Vec<Plan>, PlanError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let plans: Vec<Plan> =
        sqlx::query_as(&format!("{PLAN_SELECT} AND p.id = ANY($2) ORDER BY p.id"))
            .bind(drafts)
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    with_documents(conn, plans).await
}

/// Approves draft `id`: status, decision and validity set, the plan it replaces superseded on
/// the day the new one starts (today, or its later `valid_from`: until then the replaced plan
/// stays in force), in one transaction; then `bando_layer_changes` names the area of both plans'
/// features in each planning table, so every server drops those tiles. The approved plan.
pub async fn approve(pool: &PgPool, id: i64, approval: &Approval) -> Result<Plan, PlanError> {
    let number = approval.decision_number.trim();
    if number.is_empty() || number.chars().count() > 100 {
        return Err(PlanError::Invalid(
            "approval needs a decision number of 1 to 100 characters".into(),
        ));
    }
    if let (Some(from), Some(until)) = (approval.valid_from, approval.valid_until) {
        if until < from {
            return Err(PlanError::Invalid(format!(
                "valid_until {until} is before valid_from {from}"
            )));
        }
    }
    let mut tx = pool.begin().await?;
    let (status, replaces) = lock_plan(&mut tx, id).await?;
    if status != "draft" {
        return Err(PlanError::NotDraft {
            id,
            status,
            what: "only a draft can be approved",
        });
    }
    if let Some(old) = replaces {
        let old_status: String =
            sqlx::query_scalar("SELECT status FROM planning.plans WHERE id = $1 FOR UPDATE")
                .bind(old)
                .fetch_one(&mut *tx)
                .await?;
        if old_status != "approved" {
            return Err(PlanError::ReplacedNotInForce {
                id,
                replaces: old,
                status: old_status,
            });
        }
    }
    let day: NaiveDate = match approval.approved_on {
        Some(d) => d,
        None => {
            sqlx::query_scalar("SELECT current_date")
                .fetch_one(&mut *tx)
                .await?
        }
    };
    sqlx::query(
        "UPDATE planning.plans SET status = 'approved', decision_number = $2,
             decision_date = coalesce($3, $6), authority = coalesce($4, authority),
             valid_from = coalesce($5, $6), valid_until = $7, approved_on = $6
         WHERE id = $1",
    )
    .bind(id)
    .bind(number)
    .bind(approval.decision_date)
    .bind(
        approval
            .authority
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty()),
    )
    .bind(approval.valid_from)
    .bind(day)
    .bind(approval.valid_until)
    .execute(&mut *tx)
    .await?;
    if let Some(old) = replaces {
        // The replaced plan stays in force until its successor starts: superseded now when
        // that is today or past, else on the day (`superseded_on`, which the dated report
        // reads and `check_validity` turns into the status on that day).
        let start = approval.valid_from.map_or(day, |from| from.max(day));
        sqlx::query(
            "UPDATE planning.plans SET superseded_on = $2,
                 status = CASE WHEN $2 <= current_date THEN 'superseded' ELSE status END
             WHERE id = $1",
        )
        .bind(old)
        .bind(start)
        .execute(&mut *tx)
        .await?;
    }
    let touched: Vec<i64> = std::iter::once(id).chain(replaces).collect();
    notify_plans(&mut tx, &touched).await?;
    tx.commit().await?;
    get(pool, id, true).await?.ok_or(PlanError::NotFound(id))
}

/// Plan `id`'s status and the plan it replaces, locked for the transaction's change.
async fn lock_plan(
    tx: &mut sqlx::PgConnection,
    id: i64,
) -> Result<(String, Option<i64>), PlanError> {
    sqlx::query_as("SELECT status, replaces FROM planning.plans WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(PlanError::NotFound(id))
}

/// Withdraws plan `id`: a draft is dropped from review, an approved plan in force is annulled
/// and the plan it superseded comes back into force (its supersession undone), in one
/// transaction; then `bando_layer_changes` names both plans' areas so every server drops
/// those tiles. Superseded and withdrawn plans cannot be withdrawn; an approved plan needs the
/// decision annulling it ([`PlanError::DecisionRequired`]).
pub async fn withdraw(pool: &PgPool, id: i64, by: &Withdrawal) -> Result<Withdrawn, PlanError> {
    let decision = by
        .decision_number
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    if decision.is_some_and(|d| d.chars().count() > 100) {
        return Err(PlanError::Invalid(
            "a decision number has at most 100 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let (status, replaces) = lock_plan(&mut tx, id).await?;
    if status != "draft" && status != "approved" {
        return Err(PlanError::NotDraft {
            id,
            status,
            what: "only a draft or an approved plan in force can be withdrawn",
        });
    }
    if status == "approved" && decision.is_none() {
        return Err(PlanError::DecisionRequired(id));
    }
    sqlx::query(
        "UPDATE planning.plans SET status = 'withdrawn', withdrawal_decision = $2,
             withdrawal_date = $3, withdrawn_on = current_date
         WHERE id = $1",
    )
    .bind(id)
    .bind(decision)
    .bind(by.decision_date)
    .execute(&mut *tx)
    .await?;
    // An annulled approval gives the superseded plan back its force.
    let mut restored = None;
    if let (true, Some(old)) = (status == "approved", replaces) {
        restored = sqlx::query_scalar(
            "UPDATE planning.plans SET status = 'approved', superseded_on = NULL
             WHERE id = $1 AND (status = 'superseded' OR superseded_on IS NOT NULL) RETURNING id",
        )
        .bind(old)
        .fetch_optional(&mut *tx)
        .await?;
    }
    let touched: Vec<i64> = std::iter::once(id).chain(restored).collect();
    notify_plans(&mut tx, &touched).await?;
    tx.commit().await?;
    let plan = get(pool, id, true).await?.ok_or(PlanError::NotFound(id))?;
    Ok(Withdrawn { plan, restored })
}

/// What a withdrawal did.
#[derive(Debug, Clone, PartialEq)]
pub struct Withdrawn {
    /// The withdrawn plan.
    pub plan: Plan,
    /// The plan back in force (the one an annulled approval had superseded).
    pub restored: Option<i64>,
}

/// What one validity check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidityCheck {
    /// Whether this call ran it (another instance holding the check's lock skips it).
    pub ran: bool,
    /// Plans that came into force since the last check (their validity started).
    pub started: Vec<i64>,
    /// Plans that went out of force since the last check (their validity ended).
    pub ended: Vec<i64>,
}

/// The periodic validity check (`bando serve` runs it): plans whose public force changed with
/// the calendar alone — an approved plan's validity ended, or its future start arrived — since
/// tiles were last told (`shown_in_force`) are notified on `bando_layer_changes` with their
/// rows' area, once, so every server drops those tiles; items, counts and reports read the rule
/// (`planning.publicly_in_force`) directly and need nothing. One instance at a time: the
/// check takes a transaction advisory lock and skips when another holds it.
pub async fn check_validity(pool: &PgPool) -> Result<ValidityCheck, PlanError> {
    let mut tx = pool.begin().await?;
    let ran: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext('planning.validity_check'))")
            .fetch_one(&mut *tx)
            .await?;
    if !ran {
        return Ok(ValidityCheck::default());
    }
    // Plans whose successor starts today are superseded today.
    sqlx::query(
        "UPDATE planning.plans SET status = 'superseded'
         WHERE status = 'approved' AND superseded_on <= current_date",
    )
    .execute(&mut *tx)
    .await?;
    let changed: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT id, planning.publicly_in_force(status, valid_from, valid_until)
         FROM planning.plans
         WHERE shown_in_force IS DISTINCT FROM planning.publicly_in_force(status, valid_from, valid_until)
         ORDER BY id
         FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<i64> = changed.iter().map(|(id, _)| *id).collect();
    if !ids.is_empty() {
        notify_plans(&mut tx, &ids).await?;
    }
    tx.commit().await?;
    let (started, ended): (Vec<_>, Vec<_>) = changed.into_iter().partition(|(_, now)| *now);
    Ok(ValidityCheck {
        ran,
        started: started.into_iter().map(|(id, _)| id).collect(),
        ended: ended.into_iter().map(|(id, _)| id).collect(),
    })
}

/// Notifies `bando_layer_changes` with the area of the plans' rows in each planning table (sent
/// at commit, like the tables' own triggers): their rows did not change, their visibility did.
/// Records what the public was told (`shown_in_force`), so [`check_validity`] notifies only
/// what the calendar changes after this.
async fn notify_plans(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    plans: &[i64],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE planning.plans
         SET shown_in_force = planning.publicly_in_force(status, valid_from, valid_until)
         WHERE id = ANY($1)",
    )
    .bind(plans)
    .execute(&mut **tx)
    .await?;
    for table in PLAN_TABLES {
        sqlx::query(&format!(
            "SELECT pg_notify('bando_layer_changes', json_build_object(
                 'table', '{table}', 'op', 'update',
                 'bbox_3857', json_build_array(ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)),
                 'changes', platform.count_change('{table}'))::text)
             FROM (SELECT ST_Extent(geom_3857) AS b FROM {table} WHERE plan_id = ANY($1)) e
             WHERE b IS NOT NULL"
        ))
        .bind(plans)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Adds a document to plan `plan`; its id.
pub async fn add_document(
    pool: &PgPool,
    plan: i64,
    title: &str,
    file_name: &str,
    media_type: &str,
    content: &[u8],
) -> Result<i64, PlanError> {
    if file_name.is_empty() || file_name.contains(['/', '\\']) {
        return Err(PlanError::Invalid(format!(
            "document file name {file_name:?} must be a plain name"
        )));
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM planning.plans WHERE id = $1)")
            .bind(plan)
            .fetch_one(pool)
            .await?;
    if !exists {
        return Err(PlanError::NotFound(plan));
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO planning.plan_documents (plan_id, title, file_name, media_type, content)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(plan)
    .bind(title)
    .bind(file_name)
    .bind(media_type)
    .bind(content)
    .fetch_one(pool)
    .await?)
}

/// Adds a document kept in the documents directory (`rel`: its path relative to the directory,
/// [`crate::documents::DocumentsDir::relative`]) to plan `plan`; its id.
pub async fn add_document_file(
    pool: &PgPool,
    plan: i64,
    title: &str,
    file_name: &str,
    rel: &str,
    bytes: i64,
) -> Result<i64, PlanError> {
    if file_name.is_empty() || file_name.contains(['/', '\\']) {
        return Err(PlanError::Invalid(format!(
            "document file name {file_name:?} must be a plain name"
        )));
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM planning.plans WHERE id = $1)")
            .bind(plan)
            .fetch_one(pool)
            .await?;
    if !exists {
        return Err(PlanError::NotFound(plan));
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO planning.plan_documents (plan_id, title, file_name, media_type, path, file_bytes)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(plan)
    .bind(title)
    .bind(file_name)
    .bind(crate::documents::media_type(file_name))
    .bind(rel)
    .bind(bytes)
    .fetch_one(pool)
    .await?)
}

/// Where a document's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// In the database.
    Bytes(Vec<u8>),
    /// In the documents directory, at this relative path.
    File(String),
}

/// A document's file name, media type and where its bytes are, if its plan is one the reader
/// sees.
pub async fn document(
    pool: &PgPool,
    plan: i64,
    doc: i64,
    drafts: bool,
) -> Result<Option<(String, String, Stored)>, PlanError> {
    /// File name, media type, bytes or path.
    type Row = (String, String, Option<Vec<u8>>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT d.file_name, d.media_type, d.content, d.path
         FROM planning.plan_documents d JOIN planning.plans p ON p.id = d.plan_id
         WHERE d.plan_id = $1 AND d.id = $2 AND ($3 OR p.status IN ('approved', 'superseded'))",
    )
    .bind(plan)
    .bind(doc)
    .bind(drafts)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(name, media, content, path)| {
        let stored = match (content, path) {
            (Some(bytes), _) => Stored::Bytes(bytes),
            (None, Some(rel)) => Stored::File(rel),
            // The table's check keeps one of them.
            (None, None) => Stored::Bytes(Vec::new()),
        };
        (name, media, stored)
    }))
}

/// The zones of plan `to` against those of plan `from` (matched by their delivery id): a
/// GeoJSON FeatureCollection in WGS84 of the zones `added`, `removed` and `changed` (geometry
/// or an attribute), each with `change`, `zone_code` and the attributes `before` and `after`.
pub async fn compare(pool: &PgPool, from: i64, to: i64, drafts: bool) -> Result<Value, PlanError> {
    for id in [from, to] {
        if get(pool, id, drafts).await?.is_none() {
            return Err(PlanError::NotFound(id));
        }
    }
    let fc: Value = sqlx::query_scalar(
        "WITH a AS (SELECT * FROM planning.zones WHERE plan_id = $1),
              b AS (SELECT * FROM planning.zones WHERE plan_id = $2),
              d AS (
                SELECT CASE WHEN a.id IS NULL THEN 'added' WHEN b.id IS NULL THEN 'removed'
                            ELSE 'changed' END AS change,
                       coalesce(b.zone_code, a.zone_code) AS zone_code,
                       coalesce(b.geom, a.geom) AS geom,
                       CASE WHEN a.id IS NOT NULL THEN jsonb_build_object(
                           'zone_code', a.zone_code, 'name', a.name,
                           'land_use_function', a.land_use_function, 'density_pct', a.density_pct,
                           'max_floors', a.max_floors, 'max_height_m', a.max_height_m,
                           'setback_m', a.setback_m, 'far', a.far) END AS before,
                       CASE WHEN b.id IS NOT NULL THEN jsonb_build_object(
                           'zone_code', b.zone_code, 'name', b.name,
                           'land_use_function', b.land_use_function, 'density_pct', b.density_pct,
                           'max_floors', b.max_floors, 'max_height_m', b.max_height_m,
                           'setback_m', b.setback_m, 'far', b.far) END AS after,
                       a.id IS NOT NULL AND b.id IS NOT NULL
                           AND NOT ST_Equals(a.geom_3857, b.geom_3857) AS reshaped
                FROM a FULL JOIN b ON a.source_id = b.source_id)
         SELECT jsonb_build_object('type', 'FeatureCollection', 'from', $1::bigint, 'to', $2::bigint,
                'plans', (SELECT jsonb_build_object(
                                   'from', (max(side) FILTER (WHERE id = $1))::jsonb,
                                   'to', (max(side) FILTER (WHERE id = $2))::jsonb)
                          FROM (SELECT p.id, jsonb_build_object('id', p.id, 'name', p.name,
                                    'status', p.status, 'decision_number', p.decision_number,
                                    'decision_date', p.decision_date::text)::text AS side
                                FROM planning.plans p WHERE p.id IN ($1, $2)) s),
                'features', coalesce(jsonb_agg(jsonb_build_object(
                    'type', 'Feature',
                    'geometry', ST_AsGeoJSON(ST_Transform(geom, 4326), 9)::jsonb,
                    'properties', jsonb_build_object('change', change, 'zone_code', zone_code,
                        'geometry_changed', reshaped, 'before', before, 'after', after))
                  ORDER BY change, zone_code), '[]'::jsonb))
         FROM d WHERE change <> 'changed' OR reshaped OR before IS DISTINCT FROM after",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    Ok(fc)
}

/// Parses an ISO 8601 day (`2026-12-31`).
pub fn parse_day(text: &str) -> Result<NaiveDate, PlanError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        PlanError::Invalid(format!(
            "{:?} is not a date as YYYY-MM-DD",
            text.chars().take(40).collect::<String>()
        ))
    })
}
