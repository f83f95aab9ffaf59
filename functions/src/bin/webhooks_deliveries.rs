//! Lambda function `webhooks_deliveries`: serves `tenant::routes::webhooks::deliveries`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::deliveries)
}
