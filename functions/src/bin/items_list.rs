//! Lambda function `items_list`: serves `tenant::items::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::items::list)
}
