//! The admin console: a static page, its script and its style sheet, compiled into
//! the binary and served at `/dashboard`, `/dashboard/app.js` and `/dashboard/app.css`
//! (with or without `/api/v1`). The page talks to the API on the same origin only.
//!
//! No inline script or style anywhere, so the Content-Security-Policy can forbid both:
//! the page loads its script and style sheet from this same function.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::route_path;

const INDEX_HTML: &str = include_str!("../../static/dashboard/index.html");
const APP_JS: &str = include_str!("../../static/dashboard/app.js");
const APP_CSS: &str = include_str!("../../static/dashboard/app.css");

/// The policy of every console response: only this origin's script, style and API.
/// The audit log's "Download CSV" needs nothing more: it fetches the CSV from this
/// origin (`connect-src 'self'`) and saves it through a `blob:` URL on a link with
/// `download`, a download that no fetch directive governs (checked in
/// tests/browser/audit.test.mjs).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One file of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// `Content-Type` header.
    pub content_type: &'static str,
    /// The file, as compiled in.
    pub body: &'static str,
    /// `Cache-Control` header: the page is never stored (it is the entry point and
    /// must always match the script); script and style sheet are revalidated.
    pub cache_control: &'static str,
    /// Strong validator of the body, computed at compile time.
    pub etag: &'static str,
}

/// FNV-1a (64 bit) of a byte string, at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `"` + 16 lowercase hex digits + `"`, at compile time.
const fn etag_of(body: &str) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = fnv1a(body.as_bytes());
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

const HTML_ETAG: [u8; 18] = etag_of(INDEX_HTML);
const JS_ETAG: [u8; 18] = etag_of(APP_JS);
const CSS_ETAG: [u8; 18] = etag_of(APP_CSS);

fn etag_str(bytes: &'static [u8; 18]) -> &'static str {
    // Only ASCII quote and hex digits are ever written into these arrays.
    std::str::from_utf8(bytes).unwrap_or("\"0\"")
}

/// The console file a path names (without stage prefix), if any. Exact paths only:
/// at `/dashboard/` the page's relative links would miss its script and style sheet.
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    match path {
        "/dashboard" => Some(Asset {
            content_type: "text/html; charset=utf-8",
            body: INDEX_HTML,
            cache_control: "no-store",
            etag: etag_str(&HTML_ETAG),
        }),
        "/dashboard/app.js" => Some(Asset {
            content_type: "text/javascript; charset=utf-8",
            body: APP_JS,
            cache_control: "no-cache",
            etag: etag_str(&JS_ETAG),
        }),
        "/dashboard/app.css" => Some(Asset {
            content_type: "text/css; charset=utf-8",
            body: APP_CSS,
            cache_control: "no-cache",
            etag: etag_str(&CSS_ETAG),
        }),
        _ => None,
    }
}

/// Does an `If-None-Match` header value name this validator (or `*`)?
fn matches_etag(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(value) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == etag || tag.strip_prefix("W/").is_some_and(|weak| weak == etag)
    })
}

/// The response for one console request: the file (200), `304` when the client
/// already holds it, else the contract's JSON 404.
pub fn respond(req: &Request) -> ApiResult<Response<Body>> {
    let asset = asset(route_path(req)).ok_or_else(|| ApiError::NotFound("Not Found".into()))?;
    let fresh = asset.cache_control != "no-store"
        && matches_etag(req.headers().get(header::IF_NONE_MATCH), asset.etag);
    let builder = Response::builder()
        .header(header::CACHE_CONTROL, asset.cache_control)
        .header(header::ETAG, asset.etag)
        .header("content-security-policy", CONTENT_SECURITY_POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cross-origin-opener-policy", "same-origin")
        .header("cross-origin-resource-policy", "same-origin");
    let response = if fresh {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::Empty)
    } else {
        builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, asset.content_type)
            .body(Body::Text(asset.body.to_owned()))
    };
    response.map_err(ApiError::internal)
}

/// `GET /dashboard`, `/dashboard/app.js`, `/dashboard/app.css` (with or without
/// `/api/v1`): the admin console.
pub async fn dashboard(_app: &App, req: Request) -> ApiResult<Response<Body>> {
    respond(&req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, if_none_match: Option<&str>) -> Response<Body> {
        let mut builder = lambda_http::http::Request::builder().uri(path);
        if let Some(tag) = if_none_match {
            builder = builder.header(header::IF_NONE_MATCH, tag);
        }
        respond(&builder.body(Body::Empty).unwrap()).unwrap()
    }

    /// An attribute such as ` onclick=`.
    fn has_inline_handler(html: &str) -> bool {
        html.match_indices(" on").any(|(at, _)| {
            let rest = &html.as_bytes()[at + 3..];
            let name = rest.iter().take_while(|b| b.is_ascii_lowercase()).count();
            name > 0 && rest.get(name) == Some(&b'=')
        })
    }

    fn header_of<'a>(res: &'a Response<Body>, name: &str) -> &'a str {
        res.headers()[name].to_str().unwrap()
    }

    #[test]
    fn every_file_answers_at_the_root_and_under_api_v1() {
        for prefix in ["", "/api/v1"] {
            for (file, kind) in [
                ("", "text/html"),
                ("/app.js", "text/javascript"),
                ("/app.css", "text/css"),
            ] {
                let res = get(&format!("{prefix}/dashboard{file}"), None);
                assert_eq!(res.status(), StatusCode::OK, "{prefix}{file}");
                assert!(header_of(&res, "content-type").starts_with(kind));
                assert_eq!(header_of(&res, "x-content-type-options"), "nosniff");
                assert_eq!(header_of(&res, "referrer-policy"), "no-referrer");
                assert_eq!(
                    header_of(&res, "content-security-policy"),
                    CONTENT_SECURITY_POLICY
                );
            }
        }
        assert_eq!(
            header_of(&get("/dashboard", None), "cache-control"),
            "no-store"
        );
    }

    #[test]
    fn the_policy_allows_no_inline_code_and_nothing_from_elsewhere() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        // Nothing is loaded from another origin (a URL in a hint's words is text).
        for file in [INDEX_HTML, APP_JS, APP_CSS] {
            for loads in [
                "src=\"http",
                "href=\"http",
                "url(http",
                "url(\"http",
                "('http",
                "(\"http",
                "(`http",
            ] {
                assert!(!file.contains(loads), "{loads}");
            }
        }
        assert!(!INDEX_HTML.contains("style=") && !has_inline_handler(INDEX_HTML));
        assert!(!INDEX_HTML.contains("<script>") && !INDEX_HTML.contains("<style"));
        assert!(!APP_JS.contains("innerHTML") && !APP_JS.contains("eval("));
        // Script and style sheet are loaded relative to the page, so that they are
        // found at /dashboard, /api/v1/dashboard and behind a stage prefix alike.
        assert!(INDEX_HTML.contains("src=\"dashboard/app.js\""));
        assert!(INDEX_HTML.contains("href=\"dashboard/app.css\""));
    }

    #[test]
    fn unknown_files_are_not_found() {
        for path in [
            "/dashboard/",
            "/api/v1/dashboard/",
            "/api/v1",
            "/dashboard/app.ts",
            "/dashboard/../meta.rs",
            "/dashboardx",
            "/",
        ] {
            let req = lambda_http::http::Request::builder().uri(path);
            let err = respond(&req.body(Body::Empty).unwrap()).unwrap_err();
            assert!(matches!(err, ApiError::NotFound(_)), "{path}");
        }
    }

    #[test]
    fn a_client_holding_the_current_file_gets_304_but_never_for_the_page() {
        let first = get("/dashboard/app.js", None);
        let tag = header_of(&first, "etag").to_owned();
        assert_eq!(tag.len(), 18);
        assert_eq!(
            get("/dashboard/app.js", Some(&tag)).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            get("/dashboard/app.js", Some("\"0000000000000000\"")).status(),
            StatusCode::OK
        );
        assert_ne!(tag, header_of(&get("/dashboard/app.css", None), "etag"));
        let page = get("/dashboard", None);
        let page_tag = header_of(&page, "etag").to_owned();
        assert_eq!(get("/dashboard", Some(&page_tag)).status(), StatusCode::OK);
    }
}
