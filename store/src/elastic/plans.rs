//! Plans on Elasticsearch: one document per plan id, read by id (real-time, so a plan
//! quoted right after its dry run is found whatever the refresh setting), moved between
//! statuses only with `if_seq_no`/`if_primary_term`; and the tasks that wait on them.

use super::client::Es;
use serde_json::json;

use super::docs::{self, create, get_versioned, page, put_if};
use super::dsl::*;
use super::mappings::Idx;
use crate::model::{PlanRecord, PlanStatus, TaskRecord};
use crate::query::Page;
use crate::{Result, StoreError};

pub(crate) async fn put(es: &Es, p: &PlanRecord) -> Result<()> {
    if create(es, Idx::Plans, &p.id, p).await? {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "plan {} already exists",
            p.id
        )))
    }
}

pub(crate) async fn get(es: &Es, id: &str) -> Result<Option<PlanRecord>> {
    Ok(get_versioned::<PlanRecord>(es, Idx::Plans, id)
        .await?
        .map(|v| v.doc))
}

pub(crate) async fn update_if(es: &Es, p: &PlanRecord, from: PlanStatus) -> Result<bool> {
    let Some(cur) = get_versioned::<PlanRecord>(es, Idx::Plans, &p.id).await? else {
        return Ok(false);
    };
    if cur.doc.status != from {
        return Ok(false);
    }
    put_if(
        es,
        Idx::Plans,
        &p.id,
        cur.seq_no,
        cur.primary_term,
        to_value(p)?,
    )
    .await
}

pub(crate) async fn list(
    es: &Es,
    status: Option<PlanStatus>,
    limit: usize,
) -> Result<Page<PlanRecord>> {
    let fl = status
        .map(|s| vec![term("status", s.as_str())])
        .unwrap_or_default();
    page(es, Idx::Plans, fl, vec![desc("@timestamp")], limit).await
}

pub(crate) async fn put_task(es: &Es, t: &TaskRecord) -> Result<()> {
    docs::put(es, Idx::Tasks, &t.id, t).await
}

pub(crate) async fn get_task(es: &Es, id: &str) -> Result<Option<TaskRecord>> {
    Ok(get_versioned::<TaskRecord>(es, Idx::Tasks, id)
        .await?
        .map(|v| v.doc))
}

pub(crate) async fn open_tasks(es: &Es, limit: usize) -> Result<Vec<TaskRecord>> {
    let fl = vec![json!({"terms": {"status": ["working", "input_required"]}})];
    Ok(page(
        es,
        Idx::Tasks,
        fl,
        vec![asc("@timestamp"), asc("id")],
        limit,
    )
    .await?
    .items)
}
