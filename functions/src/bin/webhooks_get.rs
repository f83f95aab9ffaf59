//! Lambda function `webhooks_get`: serves `tenant::routes::webhooks::get`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::get)
}
