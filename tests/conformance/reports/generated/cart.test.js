const total = (items) => items.reduce((sum, item) => sum + item.price * item.qty, 0);

describe('cart', () => {
  test('adds up prices', () => {
    expect(total([{ price: 2, qty: 3 }, { price: 1, qty: 1 }])).toBe(7);
  });
  test('applies the discount', () => {
    expect(total([{ price: 10, qty: 1 }]) * 0.9).toBe(8);
  });
  test.skip('ships abroad', () => {
    expect(true).toBe(false);
  });
  describe('empty', () => {
    test('is zero', () => {
      expect(total([])).toBe(0);
    });
  });
});
