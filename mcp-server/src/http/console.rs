//! The operator console at `/`: one page and its static assets, embedded in the binary.
//! `/?token=` signs a browser in once (an HttpOnly cookie, which authenticates the
//! console's own routes only: `session`); the page reads `/console/api/tools`.
//!
//! The page holds no data: it calls the same tools as every client (see `gate`), so the
//! console can show nothing an MCP client could not ask for itself.

mod gate;
mod session;
mod signin;

pub use session::{cookie_secret, csrf_for_secret};
use signin::sign_in;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::HttpState;
use crate::caller::{Caller, Scopes};
use crate::policy::{Policy, console_mutations};

/// No script, style, image or connection from anywhere but this server; no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../../console/index.html");

/// One embedded file under `/console/`.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../console/console.css"),
    },
    Asset {
        name: "app.js",
        mime: JS,
        body: include_bytes!("../../console/app.js"),
    },
    Asset {
        name: "api.js",
        mime: JS,
        body: include_bytes!("../../console/api.js"),
    },
    Asset {
        name: "dom.js",
        mime: JS,
        body: include_bytes!("../../console/dom.js"),
    },
    Asset {
        name: "chart.js",
        mime: JS,
        body: include_bytes!("../../console/chart.js"),
    },
    Asset {
        name: "panels.js",
        mime: JS,
        body: include_bytes!("../../console/panels.js"),
    },
    Asset {
        name: "approvals.js",
        mime: JS,
        body: include_bytes!("../../console/approvals.js"),
    },
    Asset {
        name: "actions.js",
        mime: JS,
        body: include_bytes!("../../console/actions.js"),
    },
    Asset {
        name: "icon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("../../console/icon.svg"),
    },
];

/// `/` and `/console/api/*` (signed in by the cookie, POSTs with the page's CSRF token)
/// and `/console/{file}` (public: code, no data).
pub fn routes(state: HttpState) -> Router<HttpState> {
    // route_layer: the checks wrap these routes only, not the router's fallback.
    let signed = middleware::from_fn_with_state(state.clone(), session::console_only);
    let page = Router::new()
        .route("/", get(page))
        .route_layer(signed.clone())
        .route_layer(middleware::from_fn_with_state(state.clone(), sign_in));
    let api = Router::new()
        .route(
            "/console/api/tools/{name}",
            post(super::api::call_tool)
                .route_layer(middleware::from_fn_with_state(state, gate::tool_calls)),
        )
        .route("/console/api/approvals", get(super::approvals::list))
        .route(
            "/console/api/approvals/{plan_id}",
            post(super::approvals::decide),
        )
        .route_layer(signed);
    Router::new()
        .route("/console/{file}", get(asset))
        .merge(page)
        .merge(api)
}

/// The page. Which action buttons it shows is decided here, once, from the server's flags
/// and the caller's rights; the server enforces the same rules on every call anyway.
async fn page(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    signed: Option<Extension<session::Signed>>,
    headers: HeaderMap,
) -> Response {
    let actions = console_actions(&state, &caller);
    let csrf = session::csrf_token(&state, signed.as_ref().map(|s| s.0.0.as_str()));
    let html = render(&caller, &actions, &csrf);
    let mut r = cached(
        &headers,
        "text/html; charset=utf-8",
        html.into_bytes(),
        "no-cache, private",
    );
    secure(&mut r);
    r
}

/// The mutating tools this caller may use from the page (empty: a read-only console).
fn console_actions(state: &HttpState, caller: &Caller) -> Vec<&'static str> {
    if !state.cfg.console_actions || !caller.can_write() {
        return Vec::new();
    }
    let policy = Policy::new(state.app.config());
    let mut names: Vec<&'static str> = console_mutations().filter(|t| policy.visible(t)).collect();
    names.sort_unstable();
    names
}

fn render(caller: &Caller, actions: &[&str], csrf: &str) -> String {
    let access = if caller.can_write() { "write" } else { "read" };
    let approver = caller.scopes.contains(Scopes::APPROVE);
    INDEX
        .replace("{{caller}}", &escape(&caller.name))
        .replace("{{access}}", access)
        .replace("{{approver}}", if approver { "true" } else { "false" })
        .replace("{{actions}}", &escape(&actions.join(",")))
        .replace("{{csrf}}", &escape(csrf))
        .replace("{{version}}", env!("CARGO_PKG_VERSION"))
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == file) else {
        let mut r = (StatusCode::NOT_FOUND, "no such console file").into_response();
        secure(&mut r);
        return r;
    };
    // no-cache: revalidated on every load (cheap with the ETag), so an upgraded server
    // never runs last version's script against this version's tools.
    let mut r = cached(&headers, a.mime, a.body.to_vec(), "no-cache");
    secure(&mut r);
    r
}

/// The security headers every console response carries.
fn secure(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A body with its ETag, or 304 when the request already holds it.
fn cached(headers: &HeaderMap, mime: &'static str, body: Vec<u8>, cache: &'static str) -> Response {
    let tag = etag(&body);
    let fresh = if_none_match(headers, &tag);
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(body));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        r
    };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    r
}

/// A strong ETag: 64-bit FNV-1a of the bytes (stable across runs and builds, unlike
/// std's hasher; collisions only cost a missed update until the next change).
pub(super) fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{h:016x}-{:x}\"", bytes.len())
}

/// True when `If-None-Match` lists `tag` (or `*`), compared weakly as RFC 9110 says.
pub(super) fn if_none_match(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// HTML-escapes text for element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn etags_match_weakly_and_in_lists() {
        let tag = etag(b"hello");
        assert_eq!(tag, etag(b"hello"));
        assert_ne!(tag, etag(b"hellp"));
        let mut h = HeaderMap::new();
        assert!(!if_none_match(&h, &tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{tag}")).unwrap(),
        );
        assert!(if_none_match(&h, &tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(if_none_match(&h, &tag));
    }

    #[test]
    fn every_asset_the_page_names_is_served() {
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{}", a.name);
        }
        for needle in [
            "/console/app.js",
            "/console/console.css",
            "/console/icon.svg",
        ] {
            assert!(INDEX.contains(needle), "{needle}");
        }
    }
}
