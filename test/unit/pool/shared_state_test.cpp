#include "pgquay/pool/shared_state.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace pgquay::pool {
namespace {

TEST(SharedSegment, StartsWithEverySlotNotInitialised) {
  auto segment = SharedSegment::create(50);
  ASSERT_TRUE(segment) << segment.error().message;
  SharedState& state = segment->state();
  EXPECT_EQ(state.max_connections, 50);
  ASSERT_EQ(state.all_slots().size(), 50u);
  for (const Slot& slot : state.all_slots()) {
    EXPECT_EQ(slot.state.load(), SlotState::not_init);
    EXPECT_EQ(slot.owner_pid.load(), 0);
    EXPECT_EQ(slot.params_length, 0u);
  }
}

TEST(SharedSegment, IsSharedWithForkedChildren) {
  auto segment = SharedSegment::create(4);
  ASSERT_TRUE(segment);
  SharedState& state = segment->state();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool moved = transition(state.slots[3], SlotState::not_init, SlotState::init);
    state.slots[3].owner_pid.store(getpid());
    copy_name(state.slots[3].user, "alice");
    _exit(moved ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(state.slots[3].state.load(), SlotState::init);
  EXPECT_EQ(state.slots[3].owner_pid.load(), pid);
  EXPECT_EQ(state.slots[3].user_name(), "alice");
}

TEST(Slot, TransitionsOnlyFromTheExpectedState) {
  auto segment = SharedSegment::create(1);
  ASSERT_TRUE(segment);
  Slot& slot = segment->state().slots[0];
  EXPECT_FALSE(transition(slot, SlotState::free, SlotState::in_use));
  EXPECT_TRUE(transition(slot, SlotState::not_init, SlotState::init));
  EXPECT_TRUE(transition(slot, SlotState::init, SlotState::in_use));
  EXPECT_TRUE(transition(slot, SlotState::in_use, SlotState::free));
  // Two claimants race for a free slot: exactly one wins.
  EXPECT_TRUE(transition(slot, SlotState::free, SlotState::in_use));
  EXPECT_FALSE(transition(slot, SlotState::free, SlotState::in_use));
  EXPECT_EQ(slot.state.load(), SlotState::in_use);
}

TEST(Slot, StateNamesMatchTheDocumentedMachine) {
  EXPECT_STREQ(slot_state_name(SlotState::not_init), "not-init");
  EXPECT_STREQ(slot_state_name(SlotState::in_use), "in-use");
  EXPECT_STREQ(slot_state_name(SlotState::idle_check), "idle-check");
  EXPECT_STREQ(slot_state_name(SlotState::max_age), "max-age");
  EXPECT_STREQ(slot_state_name(SlotState::remove), "remove");
}

TEST(Slot, NamesAreTruncatedToNamedatalen) {
  char name[kNameLength];
  copy_name(name, std::string(100, 'u'));
  EXPECT_EQ(std::string(name).size(), kNameLength - 1);
  copy_name(name, "db");
  EXPECT_STREQ(name, "db");
}

TEST(Clock, IsMonotonic) {
  int64_t a = now_ms();
  int64_t b = now_ms();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace pgquay::pool
