//! Lambda function `health`: serves `tenant::routes::service::health`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::service::health)
}
