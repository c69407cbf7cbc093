// The SQuAD v1.1 JSON reader.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "tasks/internal/text_file.h"
#include "tasks/task.h"
#include "tokenizers/tokenizer.h"

namespace istar::tasks {
namespace {

using Json = nlohmann::json;

// Where a JSON value sits, for error messages: "path: data[3].paragraphs[0].qas[2]".
struct Where {
  const std::string& path;
  std::string pointer;

  Where Child(std::string_view key, size_t index) const {
    return {path,
            absl::StrCat(pointer, pointer.empty() ? "" : ".", std::string(key), "[", index, "]")};
  }
  absl::Status Error(std::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", pointer, ": ", std::string(message)));
  }
};

// The member `key` of `object` if it has the type `is`, else an error naming it.
absl::StatusOr<const Json*> Member(const Json& object, const char* key, const Where& where,
                                   bool (Json::*is)() const noexcept, std::string_view type) {
  if (!object.is_object()) return where.Error("expected an object");
  const auto it = object.find(key);
  if (it == object.end() || !((*it).*is)()) {
    return where.Error(absl::StrCat("expected '", key, "' to be ", std::string(type)));
  }
  return &*it;
}

absl::StatusOr<std::string> StringMember(const Json& object, const char* key, const Where& where) {
  ISTAR_ASSIGN_OR_RETURN(const Json* value,
                         Member(object, key, where, &Json::is_string, "a string"));
  return value->get<std::string>();
}

absl::StatusOr<const Json*> ArrayMember(const Json& object, const char* key, const Where& where) {
  return Member(object, key, where, &Json::is_array, "an array");
}

absl::StatusOr<SquadAnswer> ReadAnswer(const Json& json, const std::string& context,
                                       const Where& where) {
  SquadAnswer answer;
  ISTAR_ASSIGN_OR_RETURN(answer.text, StringMember(json, "text", where));
  ISTAR_ASSIGN_OR_RETURN(const Json* start, Member(json, "answer_start", where,
                                                   &Json::is_number_integer, "an integer"));
  answer.start = start->get<int64_t>();
  const int64_t length = tokenizers::ByteOffsetToCodePointIndex(answer.text, answer.text.size());
  if (tokenizers::CodePointIndexToByteOffset(context, answer.start) < 0 ||
      tokenizers::CodePointIndexToByteOffset(context, answer.start + length) < 0) {
    return where.Error(absl::StrCat("answer_start ", answer.start, " + ", length,
                                    " code points lies outside the context"));
  }
  return answer;
}

absl::StatusOr<SquadExample> ReadQuestion(const Json& json, const std::string& context,
                                          const Where& where) {
  SquadExample example{.context = context};
  ISTAR_ASSIGN_OR_RETURN(example.id, StringMember(json, "id", where));
  ISTAR_ASSIGN_OR_RETURN(example.question, StringMember(json, "question", where));
  ISTAR_ASSIGN_OR_RETURN(const Json* answers, ArrayMember(json, "answers", where));
  for (size_t i = 0; i < answers->size(); ++i) {
    ISTAR_ASSIGN_OR_RETURN(SquadAnswer answer,
                           ReadAnswer((*answers)[i], context, where.Child("answers", i)));
    example.answers.push_back(std::move(answer));
  }
  return example;
}

absl::Status ReadArticle(const Json& article, const Where& where, TaskData& data) {
  ISTAR_ASSIGN_OR_RETURN(const Json* paragraphs, ArrayMember(article, "paragraphs", where));
  for (size_t p = 0; p < paragraphs->size(); ++p) {
    const Where paragraph_where = where.Child("paragraphs", p);
    const Json& paragraph = (*paragraphs)[p];
    ISTAR_ASSIGN_OR_RETURN(std::string context,
                           StringMember(paragraph, "context", paragraph_where));
    ISTAR_ASSIGN_OR_RETURN(const Json* questions, ArrayMember(paragraph, "qas", paragraph_where));
    for (size_t q = 0; q < questions->size(); ++q) {
      ISTAR_ASSIGN_OR_RETURN(SquadExample example, ReadQuestion((*questions)[q], context,
                                                                paragraph_where.Child("qas", q)));
      data.squad.push_back(std::move(example));
    }
  }
  return absl::OkStatus();
}

// InvalidArgument "path:line:column: message" for a JSON syntax error at byte `byte` (1-based).
absl::Status SyntaxError(const std::string& path, const std::string& contents, size_t byte,
                         std::string_view message) {
  const size_t end = std::min(byte > 0 ? byte - 1 : 0, contents.size());
  int64_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < end; ++i) {
    if (contents[i] == '\n') ++line, line_start = i + 1;
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ":", end - line_start + 1,
                                                 ": invalid JSON: ", std::string(message)));
}

}  // namespace

absl::StatusOr<TaskData> ReadSquadJson(const std::string& path) {
  ISTAR_ASSIGN_OR_RETURN(std::string contents, internal::ReadFile(path));
  Json root;
  try {
    root = Json::parse(contents);
  } catch (const Json::parse_error& error) {
    return SyntaxError(path, contents, error.byte, error.what());
  } catch (const Json::exception& error) {  // a number too large for a double ("1e613")
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", error.what()));
  }
  TaskData data{.task = Task::kSquad, .split = Split::kTrain, .path = path};
  const Where top{path, ""};
  ISTAR_ASSIGN_OR_RETURN(const Json* articles,
                         Member(root, "data", {path, "(root)"}, &Json::is_array, "an array"));
  for (size_t a = 0; a < articles->size(); ++a) {
    ISTAR_RETURN_IF_ERROR(ReadArticle((*articles)[a], top.Child("data", a), data));
  }
  return data;
}

}  // namespace istar::tasks
