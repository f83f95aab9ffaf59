//! Lambda function `events_list`: serves `tenant::routes::events::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::events::list)
}
