#pragma once
// A small blocking multi-producer/multi-consumer queue with a fixed capacity, so a fast
// producer cannot run ahead of its consumers and grow memory without bound.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace httpcloop {

template <typename T>
class BoundedQueue {
public:
	explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

	// Blocks while full. Returns false (dropping the item) once the queue is closed.
	bool push(T item)
	{
		std::unique_lock lock(mutex_);
		not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
		if (closed_)
			return false;
		items_.push_back(std::move(item));
		not_empty_.notify_one();
		return true;
	}

	// Blocks while empty. Returns nullopt once the queue is closed and drained.
	std::optional<T> pop()
	{
		std::unique_lock lock(mutex_);
		not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
		if (items_.empty())
			return std::nullopt;
		T item = std::move(items_.front());
		items_.pop_front();
		not_full_.notify_one();
		return item;
	}

	// Wakes every waiter; items already queued can still be popped.
	void close()
	{
		std::lock_guard lock(mutex_);
		closed_ = true;
		not_empty_.notify_all();
		not_full_.notify_all();
	}

private:
	std::mutex mutex_;
	std::condition_variable not_empty_;
	std::condition_variable not_full_;
	std::deque<T> items_;
	size_t capacity_;
	bool closed_ = false;
};

} // namespace httpcloop
