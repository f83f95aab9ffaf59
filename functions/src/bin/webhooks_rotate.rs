//! Lambda function `webhooks_rotate`: serves `tenant::routes::webhooks::rotate`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::rotate)
}
