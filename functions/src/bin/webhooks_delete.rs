//! Lambda function `webhooks_delete`: serves `tenant::routes::webhooks::delete`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::delete)
}
