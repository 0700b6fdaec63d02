//! Resources (the fleet, runbooks, incidents) with templates, and completions for
//! prompt arguments and resource ids.

use quantumstate_store::IncidentFilter;
use rmcp::ErrorData;
use rmcp::model::*;

use crate::app::App;

fn internal(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(e.to_string(), None)
}

fn json_resource(uri: &str, v: &impl serde::Serialize) -> Result<ReadResourceResponse, ErrorData> {
    let text = serde_json::to_string_pretty(v).map_err(internal)?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri.to_string()).with_mime_type("application/json"),
    ])
    .into())
}

/// Every resource: the fleet, and each runbook and incident (50 of each at most).
pub async fn list(app: &App) -> Result<ListResourcesResult, ErrorData> {
    let mut out = vec![
        Resource::new("quantumstate://fleet", "fleet")
            .with_description("The managed services: state, health, version, uptime, restart count")
            .with_mime_type("application/json"),
    ];
    if let Ok(store) = app.store().await {
        if let Ok(page) = store.list_runbooks(50).await {
            for rb in page.items {
                out.push(
                    Resource::new(format!("runbook://{}", rb.id), rb.id.clone())
                        .with_description(rb.title)
                        .with_mime_type("application/json"),
                );
            }
        }
        if let Ok(page) = store
            .list_incidents(&IncidentFilter {
                limit: 50,
                ..Default::default()
            })
            .await
        {
            for inc in page.items {
                out.push(
                    Resource::new(format!("incident://{}", inc.id), inc.id.clone())
                        .with_description(format!(
                            "{} ({}, {})",
                            inc.title, inc.service, inc.anomaly_type
                        ))
                        .with_mime_type("application/json"),
                );
            }
        }
    }
    Ok(ListResourcesResult::with_all_items(out))
}

/// The templates: a runbook or an incident by id.
pub fn templates() -> Result<ListResourceTemplatesResult, ErrorData> {
    Ok(ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("runbook://{id}", "runbook")
            .with_description("A runbook by id")
            .with_mime_type("application/json"),
        ResourceTemplate::new("incident://{id}", "incident")
            .with_description("An incident by id")
            .with_mime_type("application/json"),
    ]))
}

/// One resource by URI.
pub async fn read(
    app: &App,
    req: ReadResourceRequestParams,
) -> Result<ReadResourceResponse, ErrorData> {
    let uri = req.uri.as_str();
    let unavailable = |e: crate::error::ToolError| ErrorData::internal_error(e.to_text(), None);
    if uri == "quantumstate://fleet" {
        let fleet = crate::overview::fleet_overview(app)
            .await
            .map_err(unavailable)?;
        return json_resource(uri, &fleet);
    }
    let store = app.store().await.map_err(unavailable)?;
    if let Some(id) = uri.strip_prefix("runbook://") {
        return match store.get_runbook(id).await.map_err(internal)? {
            Some(rb) => json_resource(uri, &rb),
            None => Err(ErrorData::resource_not_found(
                format!("no runbook {id:?}"),
                None,
            )),
        };
    }
    if let Some(id) = uri.strip_prefix("incident://") {
        return match store.get_incident(id).await.map_err(internal)? {
            Some(inc) => json_resource(uri, &inc),
            None => Err(ErrorData::resource_not_found(
                format!("no incident {id:?}"),
                None,
            )),
        };
    }
    Err(ErrorData::resource_not_found(
        format!(
            "no resource {uri:?}: use quantumstate://fleet, runbook://{{id}} or incident://{{id}}"
        ),
        None,
    ))
}

/// Completions for prompt arguments (service, kind) and resource ids.
pub async fn complete(app: &App, req: CompleteRequestParams) -> Result<CompleteResult, ErrorData> {
    let prefix = req.argument.value.as_str();
    let candidates: Vec<String> = match (&req.r#ref, req.argument.name.as_str()) {
        (Reference::Prompt(_), "service") => app.known_services().await,
        (Reference::Prompt(_), "kind") => crate::faults::FAULT_KINDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        (Reference::Resource(r), "id") if r.uri.starts_with("runbook://") => {
            match app.store().await {
                Ok(s) => s
                    .list_runbooks(100)
                    .await
                    .map(|p| p.items.into_iter().map(|r| r.id).collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            }
        }
        (Reference::Resource(r), "id") if r.uri.starts_with("incident://") => {
            match app.store().await {
                Ok(s) => s
                    .list_incidents(&IncidentFilter {
                        limit: 100,
                        ..Default::default()
                    })
                    .await
                    .map(|p| p.items.into_iter().map(|i| i.id).collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    let values: Vec<String> = candidates
        .into_iter()
        .filter(|v| v.starts_with(prefix))
        .take(100)
        .collect();
    let info =
        CompletionInfo::with_all_values(values).map_err(|e| ErrorData::internal_error(e, None))?;
    Ok(CompleteResult::new(info))
}
