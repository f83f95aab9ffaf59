//! Lambda function `api_keys_create`: serves `tenant::routes::api_keys::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::api_keys::create)
}
