#include "kube/identity.hpp"

#include "kube/fields.hpp"

namespace wb::kube {

Result<std::optional<UserInfo>> who_am_i(Client& client) {
  auto type = client.prefer({types::SelfSubjectReview, types::SelfSubjectReviewV1beta1});
  if (!type) {
    if (type.error().code == util::ErrorCode::NotFound) return std::optional<UserInfo>();
    return type.error();
  }
  json review = {{"apiVersion", type->api_version()}, {"kind", "SelfSubjectReview"}};
  WB_ASSIGN_OR_RETURN(auto answer, client.create(*type, "", review));
  const json& user = fields::at(answer, "/status/userInfo");
  UserInfo info;
  if (auto name = user.find("username"); name != user.end() && name->is_string()) info.username = *name;
  if (auto groups = user.find("groups"); groups != user.end() && groups->is_array())
    for (const auto& g : *groups)
      if (g.is_string()) info.groups.push_back(g.get<std::string>());
  return std::optional<UserInfo>(std::move(info));
}

}  // namespace wb::kube
