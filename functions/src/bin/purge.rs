//! Lambda function `purge`: removes deleted organizations whose grace period is over,
//! `tenant::jobs::purge::run`, on an EventBridge schedule; it has no route.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::purge()
}
