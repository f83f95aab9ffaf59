//! Lambda function `dispatcher`: sends the mail the requests queued,
//! `tenant::jobs::dispatch::run`, on an EventBridge schedule; it has no route.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::dispatcher()
}
