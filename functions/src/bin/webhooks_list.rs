//! Lambda function `webhooks_list`: serves `tenant::routes::webhooks::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::list)
}
