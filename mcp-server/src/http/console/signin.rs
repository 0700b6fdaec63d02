//! Signing a browser in to the console: `/?token=SECRET` once sets an HttpOnly,
//! SameSite=Strict cookie and reloads `/` without the secret; refusals are short HTML pages.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::secure;
use crate::http::HttpState;
use crate::http::auth::{self, COOKIE};

/// How long the sign-in cookie lasts (7 days); the token itself stays valid server-side.
const COOKIE_MAX_AGE: u64 = 7 * 24 * 3600;

/// `/?token=SECRET` → remember it in a cookie and reload `/` without it in the address;
/// a request the token check refuses gets a page saying how to sign in, not JSON.
pub(super) async fn sign_in(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    let query: HashMap<String, String> = Query::try_from_uri(req.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    if let Some(secret) = query.get("token") {
        return remember(&state, secret.trim());
    }
    let had_cookie = cookie_present(req.headers());
    let resp = next.run(req).await;
    if resp.status() != StatusCode::UNAUTHORIZED {
        return resp;
    }
    let why = if had_cookie {
        "The token saved in this browser is no longer accepted by this server (its tokens changed)."
    } else {
        "This server needs a token, and this browser has none yet."
    };
    let mut r = notice(StatusCode::UNAUTHORIZED, why);
    if had_cookie {
        set_cookie(
            &mut r,
            &format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        );
    }
    r
}

fn remember(state: &HttpState, secret: &str) -> Response {
    let tokens = &state.app.config().tokens;
    let mut r = if tokens.is_empty() {
        // No tokens: nothing to remember; just take the secret out of the address bar.
        redirect_home()
    } else if !cookie_safe(secret) {
        state.app.telemetry().http_refused("wrong_token");
        notice(
            StatusCode::UNAUTHORIZED,
            "The token in this link is not valid (a token never contains spaces, quotes, commas, semicolons or backslashes).",
        )
    } else if auth::find_token(tokens, secret).is_some() {
        let mut r = redirect_home();
        set_cookie(
            &mut r,
            &format!(
                "{COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE}"
            ),
        );
        r
    } else {
        state.app.telemetry().http_refused("wrong_token");
        notice(
            StatusCode::UNAUTHORIZED,
            "The token in this link is not valid for this server.",
        )
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn redirect_home() -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/"));
    secure(&mut r);
    r
}

fn set_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// RFC 6265 cookie-octets only, so the secret round-trips through the cookie unchanged.
fn cookie_safe(secret: &str) -> bool {
    !secret.is_empty()
        && secret
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// True when the request carries the console's cookie (it may still be wrong).
pub(crate) fn cookie_present(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|kv| {
            kv.trim()
                .split_once('=')
                .is_some_and(|(k, _)| k.trim() == COOKIE)
        })
}

/// A short HTML page for a refusal, styled by the console's stylesheet (no inline style:
/// the CSP forbids it).
fn notice(status: StatusCode, why: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QuantumState console: sign in</title>
<link rel="icon" href="/console/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/console.css"></head>
<body class="notice"><main>
<h1>QuantumState console</h1>
<p class="why">{why}</p>
<p>Open <code>/?token=SECRET</code> on this server once, as <code>scripts/demo.sh</code>
prints the link. SECRET is the part after the name in <code>QS_TOKEN=name:SECRET</code> (the
demo keeps it in <code>.env</code>). The server then keeps it in an HttpOnly cookie for this
browser and takes it out of the address.</p>
<p>Scripts and MCP clients send <code>Authorization: Bearer SECRET</code> instead.</p>
</main></body></html>
"#,
        why = super::escape(why)
    );
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"quantumstate\""),
        );
    }
    secure(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cookie_octets_are_remembered() {
        assert!(cookie_safe("0123456789abcdef"));
        assert!(cookie_safe("a-b_c.d~e!f"));
        assert!(!cookie_safe(""));
        assert!(!cookie_safe("has space"));
        assert!(!cookie_safe("semi;colon"));
        assert!(!cookie_safe("quo\"te"));
        assert!(!cookie_safe("com,ma"));
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; qs_token=x"));
        assert!(cookie_present(&h));
        h.insert(header::COOKIE, HeaderValue::from_static("qs_tokens=x"));
        assert!(!cookie_present(&h));
    }
}
