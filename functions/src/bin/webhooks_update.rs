//! Lambda function `webhooks_update`: serves `tenant::routes::webhooks::update`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::update)
}
