import { roundMoney, usdText } from './numbers';

describe('usdText: dollars to the cent, as the sums are rounded', () => {
  it.each([
    [1.005, '$1.01'],
    [2.675, '$2.68'],
    [0.015, '$0.02'],
    [0.025, '$0.03'],
    [70.08, '$70.08'],
    [0, '$0.00'],
    [-20, '−$20.00'],
    [-0.004, '$0.00'],
    [2_241_487_787.7, '$2241487787.70'],
  ])('%p prints %p, the cents roundMoney gives', (value, text) => {
    expect(usdText(value)).toBe(text);
    expect(text.replace('−', '-').replace('$', '')).toBe(roundMoney(value).toFixed(2).replace(/^-0\.00$/, '0.00'));
  });
});
