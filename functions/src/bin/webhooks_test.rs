//! Lambda function `webhooks_test`: serves `tenant::routes::webhooks::test`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::test)
}
