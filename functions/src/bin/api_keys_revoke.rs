//! Lambda function `api_keys_revoke`: serves `tenant::routes::api_keys::revoke`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::api_keys::revoke)
}
