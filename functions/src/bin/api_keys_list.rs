//! Lambda function `api_keys_list`: serves `tenant::routes::api_keys::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::api_keys::list)
}
